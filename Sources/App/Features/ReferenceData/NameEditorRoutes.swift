import Fluent
import Vapor

/// Admin editing of names in every UI language for activity types, languages, countries and regions.
/// One page and one rule for all of them: the English name is required, the others are optional.
struct NameEditorRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let admin = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("admin")
        for kind in Kind.allCases {
            admin.get(kind.pathComponent, ":code", use: { try await edit(req: $0, kind: kind) })
            admin.post(kind.pathComponent, ":code", use: { try await save(req: $0, kind: kind) })
        }
        admin.post("regions", use: addRegion)
    }

    enum Kind: String, CaseIterable {
        case activityType, language, country, region

        var pathComponent: PathComponent {
            switch self {
            case .activityType: "activity-types"
            case .language: "languages"
            case .country: "countries"
            case .region: "regions"
            }
        }

        /// Where the list of this kind is shown.
        var back: String {
            switch self {
            case .activityType: "/admin/reference#activity-types"
            case .language: "/admin/reference#languages"
            case .country, .region: "/admin/countries"
            }
        }

        var titleKey: String { "names.edit.\(rawValue)" }
    }

    /// The record being edited, reduced to what the page needs.
    struct Record {
        var code: String
        var names: [String: String]
        /// Activity type → area, country → region.
        var parent: String?
        var native: String?
        var save: ([String: String], String?, String?) async throws -> Void
    }

    struct EditView: Encodable {
        struct Field: Encodable {
            var locale: String
            var label: String
            var value: String
        }
        var action: String
        var back: String
        var code: String
        var fields: [Field]
        var parentLabel: String?
        var parents: [Choice]
        var hasNative: Bool
        var native: String
        var form: FormState
    }

    func requireAdmin(_ req: Request) async throws {
        let actor = try await req.requireActor()
        guard actor.canAdministerPlatform else { throw Forbidden() }
    }

    func record(_ req: Request, _ kind: Kind) async throws -> Record {
        let code = try req.parameters.require("code")
        let db = req.db
        switch kind {
        case .activityType:
            guard let item = try await ActivityType.query(on: db).filter(\.$code == code).first() else { throw Abort(.notFound) }
            return Record(code: code, names: item.names, parent: item.areaCode, native: nil) { names, parent, _ in
                item.names = names
                if let parent { item.areaCode = parent }
                try await item.save(on: db)
            }
        case .language:
            guard let item = try await LanguageEntry.query(on: db).filter(\.$tag == code).first() else { throw Abort(.notFound) }
            return Record(code: code, names: item.names, parent: nil, native: item.native) { names, _, native in
                item.names = names
                if let native { item.native = native }
                try await item.save(on: db)
            }
        case .country:
            guard let item = try await Country.query(on: db).filter(\.$code == code).first() else { throw Abort(.notFound) }
            return Record(code: code, names: item.names, parent: item.regionCode, native: nil) { names, parent, _ in
                item.names = names
                if let parent { item.regionCode = parent }
                try await item.save(on: db)
            }
        case .region:
            guard let item = try await Region.query(on: db).filter(\.$code == code).first() else { throw Abort(.notFound) }
            return Record(code: code, names: item.names, parent: nil, native: nil) { names, _, _ in
                item.names = names
                try await item.save(on: db)
            }
        }
    }

    func parents(_ req: Request, _ kind: Kind, selected: String?) async throws -> (String?, [Choice]) {
        switch kind {
        case .activityType:
            let areas = try await Area.query(on: req.db).sort(\.$position).all()
            return (req.t("field.area"), areas.map { .init(value: $0.code, label: "\($0.code) · \(localized($0.names, req.locale))", selected: $0.code == selected) })
        case .country:
            let regions = try await Region.query(on: req.db).sort(\.$code).all()
            return (req.t("field.region"), regions.map { .init(value: $0.code, label: localized($0.names, req.locale), selected: $0.code == selected) })
        case .language, .region:
            return (nil, [])
        }
    }

    func view(_ req: Request, _ kind: Kind, code: String, names: [String: String], parent: String?, native: String?,
              form: FormState = FormState()) async throws -> EditView {
        let (parentLabel, choices) = try await parents(req, kind, selected: parent)
        return EditView(
            action: "/admin/\(kind.pathComponent)/\(code)", back: kind.back, code: code,
            fields: UILocale.allCases.map { .init(locale: $0.rawValue, label: $0.nativeName, value: names[$0.rawValue] ?? "") },
            parentLabel: parentLabel, parents: choices, hasNative: kind == .language, native: native ?? "", form: form)
    }

    func edit(req: Request, kind: Kind) async throws -> Response {
        try await requireAdmin(req)
        let record = try await record(req, kind)
        return try await req.page("reference/names", titleKey: kind.titleKey, titleArguments: [record.code],
                                  view(req, kind, code: record.code, names: record.names, parent: record.parent, native: record.native))
    }

    struct Input: Content {
        var names: [String: String]?
        var parent: String?
        var native: String?
    }

    /// Keeps the names of known UI locales, trimmed, without empty ones.
    static func cleanNames(_ raw: [String: String]?) -> [String: String] {
        (raw ?? [:]).mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.value.isEmpty && $0.value.count <= 300 && UILocale(rawValue: $0.key) != nil }
    }

    func save(req: Request, kind: Kind) async throws -> Response {
        try await requireAdmin(req)
        let record = try await record(req, kind)
        let input = try req.content.decode(Input.self)
        let names = Self.cleanNames(input.names)
        var form = FormState()
        if names["en"] == nil { form.add("names_en", req.t("validation.name_required")) }
        let (_, choices) = try await parents(req, kind, selected: input.parent)
        if !choices.isEmpty, !choices.contains(where: { $0.value == input.parent }) { form.add("parent", req.t("validation.kind_required")) }
        let native = input.native?.trimmingCharacters(in: .whitespaces)
        if kind == .language, native?.isEmpty != false { form.add("native", req.t("validation.name_required")) }
        guard !form.hasErrors else {
            return try await req.page("reference/names", titleKey: kind.titleKey, titleArguments: [record.code],
                                      view(req, kind, code: record.code, names: input.names ?? [:], parent: input.parent,
                                           native: input.native, form: form),
                                      status: .unprocessableEntity)
        }
        try await record.save(names, choices.isEmpty ? nil : input.parent, native)
        try await req.auditContext.record(kind == .country || kind == .region ? .organisationChanged : .referenceDataChanged,
                                          "\(kind.rawValue) \(record.code)", on: req.db)
        req.flash("success", "reference.saved")
        return req.seeOther(kind.back)
    }

    func addRegion(req: Request) async throws -> Response {
        struct RegionInput: Content { var region_code: String?; var region_name_en: String? }
        try await requireAdmin(req)
        let input = try req.content.decode(RegionInput.self)
        let code = (input.region_code ?? "").trimmingCharacters(in: .whitespaces).uppercased()
        let name = (input.region_name_en ?? "").trimmingCharacters(in: .whitespaces)
        if code.isEmpty || code.count > 10 || !code.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
            req.flash("error", "validation.code")
        } else if try await Region.query(on: req.db).filter(\.$code == code).first() != nil {
            req.flash("error", "validation.code_taken")
        } else if name.isEmpty {
            req.flash("error", "validation.name_required")
        } else {
            try await Region(code: code, names: ["en": name]).create(on: req.db)
            try await req.auditContext.record(.organisationChanged, "added region \(code)", on: req.db)
            req.flash("success", "reference.saved")
        }
        return req.seeOther("/admin/countries")
    }
}
