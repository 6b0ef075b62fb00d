import Fluent
import Vapor

/// The IaH areas for everyone; editing all reference data for admins.
struct ReferenceRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("areas", use: areas)
        let admin = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("admin", "reference")
        admin.get(use: overview)
        admin.get("areas", ":code", use: editArea)
        admin.post("areas", ":code", use: saveArea)
        admin.post("activity-types", use: addActivityType)
        admin.post("licences", use: addLicence)
        admin.post("languages", use: addLanguage)
    }

    struct AreasView: Encodable {
        struct Row: Encodable {
            var code: String
            var name: String
            var description: String
            var activityTypes: [String]
        }
        var rows: [Row]
    }

    func areas(req: Request) async throws -> Response {
        let types = try await ActivityType.query(on: req.db).sort(\.$code).all()
        let rows = try await Area.query(on: req.db).sort(\.$position).all().map { area in
            AreasView.Row(code: area.code, name: localized(area.names, req.locale), description: localized(area.descriptions, req.locale),
                          activityTypes: types.filter { $0.areaCode == area.code }.map { localized($0.names, req.locale) })
        }
        return try await req.page("reference/areas", titleKey: "areas.title", AreasView(rows: rows))
    }

    // MARK: admin

    func requireAdmin(_ req: Request) async throws -> Actor {
        let actor = try await req.requireActor()
        guard actor.canAdministerPlatform else { throw Forbidden() }
        return actor
    }

    struct OverviewView: Encodable {
        struct Item: Encodable {
            var code: String
            var label: String
            var detail: String
        }
        var areas: [Item]
        var activityTypes: [Item]
        var licences: [Item]
        var languages: [Item]
        var areaChoices: [Item]
        var form: FormState
    }

    func overviewView(_ req: Request, form: FormState = FormState()) async throws -> OverviewView {
        let areas = try await Area.query(on: req.db).sort(\.$position).all()
        return OverviewView(
            areas: areas.map { .init(code: $0.code, label: localized($0.names, req.locale), detail: "\($0.names.count)/\(UILocale.allCases.count)") },
            activityTypes: try await ActivityType.query(on: req.db).sort(\.$areaCode).sort(\.$code).all()
                .map { .init(code: $0.code, label: localized($0.names, req.locale), detail: $0.areaCode) },
            licences: try await Licence.query(on: req.db).sort(\.$spdx).all().map { .init(code: $0.spdx, label: $0.name, detail: $0.url ?? "") },
            languages: try await LanguageEntry.query(on: req.db).sort(\.$tag).all()
                .map { .init(code: $0.tag, label: $0.native, detail: localized($0.names, req.locale)) },
            areaChoices: areas.map { .init(code: $0.code, label: "\($0.code) · \(localized($0.names, req.locale))", detail: "") },
            form: form)
    }

    func overview(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        return try await req.page("reference/admin", titleKey: "reference.title", overviewView(req))
    }

    struct AreaView: Encodable {
        struct Field: Encodable {
            var locale: String
            var label: String
            var name: String
            var description: String
        }
        var code: String
        var fields: [Field]
        var form: FormState
    }

    struct AreaInput: Content {
        var names: [String: String]?
        var descriptions: [String: String]?
    }

    func editArea(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        let area = try await findArea(req)
        return try await req.page("reference/area", titleKey: "reference.area_edit", titleArguments: [area.code],
                                  areaView(area.code, names: area.names, descriptions: area.descriptions, form: FormState()))
    }

    func findArea(_ req: Request) async throws -> Area {
        guard let code = req.parameters.get("code"), let area = try await Area.query(on: req.db).filter(\.$code == code).first() else {
            throw Abort(.notFound)
        }
        return area
    }

    func areaView(_ code: String, names: [String: String], descriptions: [String: String], form: FormState) -> AreaView {
        AreaView(code: code, fields: UILocale.allCases.map {
            .init(locale: $0.rawValue, label: $0.nativeName, name: names[$0.rawValue] ?? "", description: descriptions[$0.rawValue] ?? "")
        }, form: form)
    }

    func saveArea(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        let area = try await findArea(req)
        let input = try req.content.decode(AreaInput.self)
        let names = (input.names ?? [:]).mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.value.isEmpty && UILocale(rawValue: $0.key) != nil }
        let descriptions = (input.descriptions ?? [:]).mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.value.isEmpty && UILocale(rawValue: $0.key) != nil }
        guard names["en"] != nil else {
            var form = FormState()
            form.add("names_en", req.t("validation.name_required"))
            return try await req.page("reference/area", titleKey: "reference.area_edit", titleArguments: [area.code],
                                      areaView(area.code, names: input.names ?? [:], descriptions: input.descriptions ?? [:], form: form),
                                      status: .unprocessableEntity)
        }
        area.names = names
        area.descriptions = descriptions
        try await area.save(on: req.db)
        try await req.auditContext.record(.referenceDataChanged, "area \(area.code)", on: req.db)
        req.flash("success", "reference.saved")
        return req.seeOther("/admin/reference")
    }

    static func codeProblem(_ code: String) -> Bool {
        code.isEmpty || code.count > 60 || code.contains(where: { $0.isWhitespace })
    }

    func addActivityType(req: Request) async throws -> Response {
        struct Input: Content { var code: String?; var area: String?; var name_en: String? }
        _ = try await requireAdmin(req)
        let input = try req.content.decode(Input.self)
        let code = (input.code ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        var form = FormState(values: ["code": input.code ?? "", "area": input.area ?? "", "name_en": input.name_en ?? ""])
        if Self.codeProblem(code) { form.add("code", req.t("validation.code")) }
        else if try await ActivityType.query(on: req.db).filter(\.$code == code).first() != nil { form.add("code", req.t("validation.code_taken")) }
        if try await Area.query(on: req.db).filter(\.$code == (input.area ?? "")).first() == nil { form.add("area", req.t("validation.area_required")) }
        let name = (input.name_en ?? "").trimmingCharacters(in: .whitespaces)
        if name.isEmpty { form.add("name_en", req.t("validation.name_required")) }
        guard !form.hasErrors else {
            return try await req.page("reference/admin", titleKey: "reference.title", overviewView(req, form: form), status: .unprocessableEntity)
        }
        try await ActivityType(code: code, areaCode: input.area!, names: ["en": name]).create(on: req.db)
        try await req.auditContext.record(.referenceDataChanged, "activity type \(code)", on: req.db)
        req.flash("success", "reference.saved")
        return req.seeOther("/admin/reference#activity-types")
    }

    func addLicence(req: Request) async throws -> Response {
        struct Input: Content { var spdx: String?; var licence_name: String?; var url: String? }
        _ = try await requireAdmin(req)
        let input = try req.content.decode(Input.self)
        let spdx = (input.spdx ?? "").trimmingCharacters(in: .whitespaces)
        var form = FormState(values: ["spdx": spdx, "licence_name": input.licence_name ?? "", "url": input.url ?? ""])
        if Self.codeProblem(spdx) { form.add("spdx", req.t("validation.code")) }
        else if try await Licence.query(on: req.db).filter(\.$spdx == spdx).first() != nil { form.add("spdx", req.t("validation.code_taken")) }
        let name = (input.licence_name ?? "").trimmingCharacters(in: .whitespaces)
        if name.isEmpty { form.add("licence_name", req.t("validation.name_required")) }
        guard !form.hasErrors else {
            return try await req.page("reference/admin", titleKey: "reference.title", overviewView(req, form: form), status: .unprocessableEntity)
        }
        let url = (input.url ?? "").trimmingCharacters(in: .whitespaces)
        try await Licence(spdx: spdx, name: name, url: url.isEmpty ? nil : url).create(on: req.db)
        try await req.auditContext.record(.referenceDataChanged, "licence \(spdx)", on: req.db)
        req.flash("success", "reference.saved")
        return req.seeOther("/admin/reference#licences")
    }

    func addLanguage(req: Request) async throws -> Response {
        struct Input: Content { var tag: String?; var native: String?; var language_name_en: String? }
        _ = try await requireAdmin(req)
        let input = try req.content.decode(Input.self)
        let tag = (input.tag ?? "").trimmingCharacters(in: .whitespaces)
        var form = FormState(values: ["tag": tag, "native": input.native ?? "", "language_name_en": input.language_name_en ?? ""])
        // BCP 47 shape: letters and digits in subtags of 1–8 separated by hyphens, a 2–3 letter language first.
        let subtags = tag.split(separator: "-", omittingEmptySubsequences: false)
        let wellFormed = !subtags.isEmpty && (2...3).contains(subtags[0].count) && subtags[0].allSatisfy(\.isLetter)
            && subtags.allSatisfy { (1...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
        if !wellFormed { form.add("tag", req.t("validation.bcp47")) }
        else if try await LanguageEntry.query(on: req.db).filter(\.$tag == tag).first() != nil { form.add("tag", req.t("validation.code_taken")) }
        let native = (input.native ?? "").trimmingCharacters(in: .whitespaces)
        let english = (input.language_name_en ?? "").trimmingCharacters(in: .whitespaces)
        if native.isEmpty { form.add("native", req.t("validation.name_required")) }
        if english.isEmpty { form.add("language_name_en", req.t("validation.name_required")) }
        guard !form.hasErrors else {
            return try await req.page("reference/admin", titleKey: "reference.title", overviewView(req, form: form), status: .unprocessableEntity)
        }
        try await LanguageEntry(tag: tag, native: native, names: ["en": english]).create(on: req.db)
        try await req.auditContext.record(.referenceDataChanged, "language \(tag)", on: req.db)
        req.flash("success", "reference.saved")
        return req.seeOther("/admin/reference#languages")
    }
}
