@testable import App
import Foundation
import Testing
import Vapor

@Suite("Translations and locale choice")
struct I18nTests {
    static let localesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Resources/Locales/").path + "/"

    @Test("every locale has exactly the keys of every other locale")
    func catalogsAreComplete() throws {
        let catalog = try Catalog.load(from: Self.localesDirectory)
        let english = Set(catalog.entries[.en]!.keys)
        #expect(english.count > 200)
        for locale in UILocale.allCases {
            let keys = Set(catalog.entries[locale]!.keys)
            #expect(english.subtracting(keys).sorted() == [], "\(locale.rawValue) lacks keys")
            #expect(keys.subtracting(english).sorted() == [], "\(locale.rawValue) has keys English lacks")
        }
    }

    @Test("translations keep every placeholder and are not left in English")
    func placeholdersSurvive() throws {
        let catalog = try Catalog.load(from: Self.localesDirectory)
        let english = catalog.entries[.en]!
        for locale in UILocale.allCases where locale != .en {
            let entries = catalog.entries[locale]!
            for (key, value) in english {
                for index in 0..<4 where value.contains("{\(index)}") {
                    #expect(entries[key]?.contains("{\(index)}") == true, "\(locale.rawValue) \(key) lost {\(index)}")
                }
            }
            #expect(entries["nav.home"] != english["nav.home"], "\(locale.rawValue) nav.home is untranslated")
            let pending = entries.filter { $0.value.hasPrefix("§") }.keys.sorted()
            #expect(pending == [], "\(locale.rawValue) has texts waiting for translation")
            let untranslated = english.keys.filter { entries[$0] == english[$0] && english[$0]!.count > 12 }
            #expect(untranslated.count < 5, "\(locale.rawValue) leaves English text: \(untranslated.sorted())")
        }
    }

    @Test("every key used by templates and code exists in the catalog")
    func usedKeysExist() throws {
        let catalog = try Catalog.load(from: Self.localesDirectory)
        let root = URL(fileURLWithPath: Self.localesDirectory).deletingLastPathComponent().deletingLastPathComponent()
        let views = root.appendingPathComponent("Resources/Views")
        var used = Set<String>()
        let enumerator = FileManager.default.enumerator(at: views, includingPropertiesForKeys: nil)!
        let pattern = try NSRegularExpression(pattern: #"#t\("([a-z0-9_.]+)""#)
        for case let url as URL in enumerator where url.pathExtension == "leaf" {
            let text = try String(contentsOf: url, encoding: .utf8)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                used.insert(String(text[Range(match.range(at: 1), in: text)!]))
            }
        }
        #expect(used.count > 100)
        let missing = used.filter { catalog.entries[.en]![$0] == nil }
        #expect(missing.sorted() == [])
        for role in Role.allCases { #expect(catalog.entries[.en]![role.catalogKey] != nil) }
        for kind in AuditEvent.Kind.allCases { #expect(catalog.entries[.en]!["audit.\(kind.rawValue)"] != nil) }
    }

    @Test("Accept-Language picks the best supported locale by quality")
    func acceptLanguage() {
        #expect(UILocale.fromAcceptLanguage("de-DE,de;q=0.9,sq;q=0.8,en;q=0.7") == .sq)
        #expect(UILocale.fromAcceptLanguage("mk-MK") == .mk)
        #expect(UILocale.fromAcceptLanguage("sr-Latn-RS,sr;q=0.5") == .srLatn)
        #expect(UILocale.fromAcceptLanguage("sr") == .srCyrl)
        #expect(UILocale.fromAcceptLanguage("hr;q=0.4, bs;q=0.9") == .bs)
        #expect(UILocale.fromAcceptLanguage("fr, de") == nil)
        #expect(UILocale.fromAcceptLanguage("en;q=0, mk;q=0.1") == .mk)
        #expect(UILocale.fromAcceptLanguage("") == nil)
    }

    @Test("names per locale fall back to a neighbouring language, then English")
    func localizedFallback() {
        let names = ["en": "University of Tuzla", "bs": "Univerzitet u Tuzli", "sr-Cyrl": "Универзитет у Тузли"]
        #expect(localized(names, .bs) == "Univerzitet u Tuzli")
        #expect(localized(names, .hr) == "Univerzitet u Tuzli")
        #expect(localized(names, .mk) == "Универзитет у Тузли")
        #expect(localized(names, .sq) == "University of Tuzla")
    }

    @Test("dates and numbers are formatted per locale")
    func formatting() {
        let date = Date(timeIntervalSince1970: 1_767_225_600)  // 1 January 2026
        #expect(LocaleFormat.number(1234.5, .en, fractionDigits: 1) == "1,234.5")
        #expect(LocaleFormat.number(1234.5, .hr, fractionDigits: 1) == "1.234,5")
        #expect(LocaleFormat.date(date, .en).contains("2026"))
        #expect(LocaleFormat.date(date, .mk) != LocaleFormat.date(date, .en))
    }
}

@Suite("Locale of HTML pages")
struct LocaleHTTPTests {
    @Test("?lang= selects the language; an unknown one falls back to English")
    func queryLanguage() async throws {
        try await withInterba(seed: false) { app in
            let client = WebClient(app)
            let sq = try await client.get("/?lang=sq")
            #expect(sq.body.string.contains("<html lang=\"sq\">"))
            #expect(sq.body.string.contains(app.catalog.text("nav.home", .sq).html))
            #expect(sq.headers.first(name: .contentLanguage) == "sq")
            let unknown = try await client.get("/?lang=xx")
            #expect(unknown.status == .ok)
            #expect(unknown.body.string.contains("<html lang=\"en\">"))
        }
    }

    @Test("Accept-Language is used when nothing else is chosen")
    func acceptLanguageHeader() async throws {
        try await withInterba(seed: false) { app in
            let client = WebClient(app)
            client.acceptLanguage = "mk,en;q=0.5"
            let page = try await client.get("/signin")
            #expect(page.body.string.contains("<html lang=\"mk\">"))
            #expect(page.body.string.contains(app.catalog.text("signin.title", .mk).html))
        }
    }

    @Test("the switcher remembers the choice for a visitor and stores it for a signed-in person")
    func switcher() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            let switched = try await client.post("/language", [("lang", "sr-Cyrl"), ("back", "/areas?lang=en")])
            #expect(switched.status == .seeOther)
            #expect(switched.headers.first(name: .location) == "/areas")
            #expect(try await client.get("/areas").body.string.contains("<html lang=\"sr-Cyrl\">"))

            try await client.signIn(demo("staff.tirana"))
            _ = try await client.post("/language", [("lang", "mk"), ("back", "/")])
            #expect(try await app.user(demo("staff.tirana")).preferredLocale == "mk")
            // The person's setting wins over ?lang= and Accept-Language.
            client.acceptLanguage = "sq"
            #expect(try await client.get("/").body.string.contains("<html lang=\"mk\">"))
            let bad = try await client.post("/language", [("lang", "xx")])
            #expect(bad.status == .badRequest)
        }
    }

    @Test("an unknown address shows the signed-in person's header and language; a visitor's stays signed out")
    func notFoundSignedIn() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            try await client.signIn(demo("staff.tirana"))
            _ = try await client.post("/language", [("lang", "sq"), ("back", "/")])
            let missing = try await client.get("/no/such/page")
            #expect(missing.status == .notFound)
            #expect(missing.body.string.contains("<html lang=\"sq\">"))
            #expect(missing.body.string.contains("id=\"signout\""))
            #expect(missing.body.string.contains(app.catalog.text("error.not_found", .sq).html))
            let visitor = try await WebClient(app).get("/no/such/page")
            #expect(visitor.status == .notFound)
            #expect(!visitor.body.string.contains("id=\"signout\""))
        }
    }
}
