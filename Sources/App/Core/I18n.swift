import Foundation
import Leaf
import Vapor

/// The UI languages, in the order the switcher shows them.
public enum UILocale: String, CaseIterable, Codable, Sendable {
    case en, sq
    case srLatn = "sr-Latn"
    case srCyrl = "sr-Cyrl"
    case bs, hr, cnr, mk

    /// The language's own name, as the switcher shows it.
    public var nativeName: String {
        switch self {
        case .en: "English"
        case .sq: "Shqip"
        case .srLatn: "Srpski"
        case .srCyrl: "Српски"
        case .bs: "Bosanski"
        case .hr: "Hrvatski"
        case .cnr: "Crnogorski"
        case .mk: "Македонски"
        }
    }

    /// The Foundation locale used to format dates and numbers.
    var formattingLocale: Locale {
        switch self {
        case .en: Locale(identifier: "en_GB")
        case .sq: Locale(identifier: "sq_AL")
        case .srLatn: Locale(identifier: "sr_Latn_RS")
        case .srCyrl: Locale(identifier: "sr_Cyrl_RS")
        case .bs: Locale(identifier: "bs_BA")
        case .hr: Locale(identifier: "hr_HR")
        case .cnr: Locale(identifier: "sr_Latn_ME")
        case .mk: Locale(identifier: "mk_MK")
        }
    }

    /// Best UI locale for a language tag such as `sr`, `sr-RS`, `sr-Cyrl-BA`, `sh`, `me`.
    public static func match(_ raw: String) -> UILocale? {
        let tag = raw.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "-")
        if let exact = allCases.first(where: { $0.rawValue.lowercased() == tag.lowercased() }) { return exact }
        let parts = tag.lowercased().split(separator: "-").map(String.init)
        guard let language = parts.first else { return nil }
        switch language {
        case "en": return .en
        case "sq", "al": return .sq
        case "sr":
            if parts.contains("latn") { return .srLatn }
            if parts.contains("me") { return .cnr }
            return .srCyrl
        case "bs": return .bs
        case "hr": return .hr
        case "cnr", "me": return .cnr
        case "mk": return .mk
        case "sh": return .srLatn
        default: return nil
        }
    }

    /// Parses an `Accept-Language` header and returns the best supported locale.
    public static func fromAcceptLanguage(_ header: String) -> UILocale? {
        let ranked = header.split(separator: ",").compactMap { part -> (String, Double)? in
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first, !tag.isEmpty else { return nil }
            var quality = 1.0
            for piece in pieces.dropFirst() where piece.hasPrefix("q=") {
                quality = Double(piece.dropFirst(2)) ?? 0
            }
            return (tag, quality)
        }
        .filter { $0.1 > 0 }
        .enumerated()
        .sorted { $0.element.1 != $1.element.1 ? $0.element.1 > $1.element.1 : $0.offset < $1.offset }
        for (_, candidate) in ranked {
            if let locale = match(candidate.0) { return locale }
        }
        return nil
    }
}

/// The translation catalog: one flat JSON file per locale under Resources/Locales.
public struct Catalog: Sendable {
    public let entries: [UILocale: [String: String]]

    public static func load(from directory: String) throws -> Catalog {
        var entries: [UILocale: [String: String]] = [:]
        for locale in UILocale.allCases {
            let path = directory + locale.rawValue + ".json"
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError("Translation catalog missing: \(path)")
            }
            entries[locale] = try JSONDecoder().decode([String: String].self, from: data)
        }
        return Catalog(entries: entries)
    }

    /// The text for `key` in `locale`, else English, else the key itself (so a gap is visible, never a crash).
    public func text(_ key: String, _ locale: UILocale, _ arguments: [String] = []) -> String {
        var text = entries[locale]?[key] ?? entries[.en]?[key] ?? key
        for (index, argument) in arguments.enumerated() {
            text = text.replacingOccurrences(of: "{\(index)}", with: argument)
        }
        return text
    }
}

/// Picks a value from a per-locale dictionary (names of institutions, areas…), falling back sensibly.
public func localized(_ values: [String: String], _ locale: UILocale) -> String {
    if let value = values[locale.rawValue], !value.isEmpty { return value }
    // Mutually intelligible neighbours before English.
    let neighbours: [UILocale: [String]] = [
        .srLatn: ["bs", "hr", "cnr"], .bs: ["hr", "sr-Latn", "cnr"], .hr: ["bs", "sr-Latn", "cnr"],
        .cnr: ["sr-Latn", "bs", "hr"], .srCyrl: ["mk"], .mk: ["sr-Cyrl"],
    ]
    for tag in neighbours[locale] ?? [] {
        if let value = values[tag], !value.isEmpty { return value }
    }
    return values["en"] ?? values.values.sorted().first ?? ""
}

struct CatalogKey: StorageKey { typealias Value = Catalog }
struct RequestLocaleKey: StorageKey { typealias Value = UILocale }

extension Application {
    public var catalog: Catalog {
        get { storage[CatalogKey.self]! }
        set { storage[CatalogKey.self] = newValue }
    }
}

extension Request {
    /// The locale this request is served in (set by `LocaleMiddleware`).
    public var locale: UILocale {
        get { storage[RequestLocaleKey.self] ?? Self.localeWithoutUser(self) }
        set { storage[RequestLocaleKey.self] = newValue }
    }

    public func t(_ key: String, _ arguments: String...) -> String {
        application.catalog.text(key, locale, arguments)
    }

    /// Locale from `?lang=`, the session choice, then `Accept-Language`, then English.
    static func localeWithoutUser(_ req: Request) -> UILocale {
        if let lang = req.query[String.self, at: "lang"], let locale = UILocale.match(lang) { return locale }
        if req.hasSession, let chosen = req.session.data["locale"], let locale = UILocale(rawValue: chosen) { return locale }
        if let header = req.headers.first(name: .acceptLanguage), let locale = UILocale.fromAcceptLanguage(header) {
            return locale
        }
        return .en
    }
}

/// Resolves the locale: the signed-in person's setting, then `?lang=`, the switcher's choice, `Accept-Language`.
extension Request {
    /// The signed-in person's chosen language, else the one the visitor picked or their browser asks for.
    static func locale(of req: Request) -> UILocale {
        if let preferred = req.auth.get(User.self)?.preferredLocale, let locale = UILocale(rawValue: preferred) { return locale }
        return localeWithoutUser(req)
    }
}

struct LocaleMiddleware: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        req.locale = Request.locale(of: req)
        let response = try await next.respond(to: req)
        response.headers.replaceOrAdd(name: .contentLanguage, value: req.locale.rawValue)
        return response
    }
}

/// `#t("key")` or `#t("key", arg0, arg1)`: the catalog text in the request's locale.
struct TranslateTag: LeafTag {
    func render(_ ctx: LeafContext) throws -> LeafData {
        guard let key = ctx.parameters.first?.string else {
            throw Abort(.internalServerError, reason: "#t needs a key")
        }
        guard let request = ctx.request else { return .string(key) }
        let arguments = ctx.parameters.dropFirst().map { $0.string ?? $0.int.map { String($0) } ?? "" }
        return .string(request.application.catalog.text(key, request.locale, Array(arguments)))
    }
}

/// Date and number formatting per locale.
enum LocaleFormat {
    static func date(_ date: Date, _ locale: UILocale, time: Bool = false) -> String {
        let formatter = DateFormatter()
        formatter.locale = locale.formattingLocale
        formatter.dateStyle = .medium
        formatter.timeStyle = time ? .short : .none
        formatter.timeZone = TimeZone(identifier: "Europe/Belgrade")
        return formatter.string(from: date)
    }

    static func number(_ value: Double, _ locale: UILocale, fractionDigits: Int = 0) -> String {
        numberFormatter(locale, fractionDigits: fractionDigits).string(from: NSNumber(value: value)) ?? String(value)
    }

    static func numberFormatter(_ locale: UILocale, fractionDigits: Int) -> NumberFormatter {
        let formatter = NumberFormatter()
        formatter.locale = locale.formattingLocale
        formatter.numberStyle = .decimal
        formatter.minimumFractionDigits = fractionDigits
        formatter.maximumFractionDigits = fractionDigits
        return formatter
    }
}

extension Request {
    func formatDate(_ date: Date?, time: Bool = false) -> String {
        guard let date else { return "" }
        return LocaleFormat.date(date, locale, time: time)
    }

    /// Formats with a formatter made once per request and precision: pages like the results page print hundreds of numbers.
    func formatNumber(_ value: Double, fractionDigits: Int = 0) -> String {
        var cache = storage[NumberFormatterCacheKey.self] ?? [:]
        let formatter: NumberFormatter
        if let cached = cache[fractionDigits] {
            formatter = cached
        } else {
            formatter = LocaleFormat.numberFormatter(locale, fractionDigits: fractionDigits)
            cache[fractionDigits] = formatter
            storage[NumberFormatterCacheKey.self] = cache
        }
        return formatter.string(from: NSNumber(value: value)) ?? String(value)
    }
}

struct NumberFormatterCacheKey: StorageKey {
    typealias Value = [Int: NumberFormatter]
}
