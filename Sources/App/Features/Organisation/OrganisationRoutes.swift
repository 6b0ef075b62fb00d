import Fluent
import Vapor

/// Institutions directory and the pages where coordinators keep their institution's record.
struct OrganisationRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let institutions = routes.grouped("institutions")
        institutions.get(use: index)
        institutions.get(":id", use: show)
        let signedIn = institutions.grouped(User.redirectMiddleware(path: "/signin"))
        signedIn.get("new", use: newForm)
        signedIn.post(use: create)
        signedIn.get(":id", "edit", use: editForm)
        signedIn.post(":id", use: update)
        signedIn.post(":id", "units", use: addUnit)
        signedIn.post(":id", "units", ":unitID", "delete", use: removeUnit)
        signedIn.get(":id", "structure", use: structureForm)
        signedIn.post(":id", "structure", use: saveStructure)
    }

    // MARK: directory

    struct IndexView: Encodable {
        struct Row: Encodable {
            var id: String
            var name: String
            var shortName: String
            var country: String
            var city: String
            var kind: String
            var website: String?
        }
        var rows: [Row]
        var canCreate: Bool
        var query: String
    }

    func index(req: Request) async throws -> Response {
        let actor = try await req.actor()
        let countries = try await countryNames(req)
        let query = (req.query[String.self, at: "q"] ?? "").trimmingCharacters(in: .whitespaces)
        let folded = query.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil)
        let rows = try await Institution.query(on: req.db).all()
            .map { institution in
                IndexView.Row(id: institution.id!.uuidString, name: localized(institution.names, req.locale), shortName: institution.shortName,
                              country: countries[institution.countryCode] ?? institution.countryCode, city: institution.city,
                              kind: req.t("institution.kind.\(institution.kind.rawValue)"), website: institution.website)
            }
            .filter { row in
                folded.isEmpty || [row.name, row.shortName, row.city, row.country].contains {
                    $0.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil).contains(folded)
                }
            }
            .sorted { ($0.country, $0.name) < ($1.country, $1.name) }
        let canCreate = actor.map { actor in actor.isAdmin || actor.isRegionalCoordinator || !actor.coordinatedCountries.isEmpty } ?? false
        return try await req.page("institutions/index", titleKey: "institutions.title", IndexView(rows: rows, canCreate: canCreate, query: query))
    }

    func countryNames(_ req: Request) async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await Country.query(on: req.db).all().map { ($0.code, localized($0.names, req.locale)) })
    }

    func find(_ req: Request) async throws -> Institution {
        guard let id = req.parameters.get("id", as: UUID.self), let institution = try await Institution.find(id, on: req.db) else {
            throw Abort(.notFound)
        }
        return institution
    }

    // MARK: one institution

    struct ShowView: Encodable {
        struct Unit: Encodable {
            var id: String
            var name: String
            var kind: String
            var depth: Int
            var indent: String
        }
        struct Structure: Encodable {
            var unitName: String
            var mandate: String
            var staffFTE: String
            var reportsTo: String
            var status: String
        }
        var id: String
        var name: String
        var otherNames: [Choice]
        var shortName: String
        var country: String
        var city: String
        var kind: String
        var website: String?
        var units: [Unit]
        var structure: Structure?
        var canManage: Bool
        var unitKinds: [Choice]
        var unitForm: FormState
    }

    func showView(_ req: Request, _ institution: Institution, unitForm: FormState = FormState()) async throws -> ShowView {
        let actor = try await req.actor()
        let countries = try await countryNames(req)
        let units = try await OrgUnit.query(on: req.db).filter(\.$institution.$id == institution.requireID()).all()
        var ordered: [ShowView.Unit] = []
        func walk(_ parent: UUID?, _ depth: Int) {
            for unit in units.filter({ $0.$parent.id == parent }).sorted(by: { $0.name < $1.name }) {
                ordered.append(.init(id: unit.id!.uuidString, name: unit.name, kind: req.t("unit.kind.\(unit.kind.rawValue)"), depth: depth,
                                     indent: String(repeating: "— ", count: depth)))
                walk(unit.id, depth + 1)
            }
        }
        walk(nil, 0)
        let structure = try await IaHStructure.query(on: req.db).filter(\.$institution.$id == institution.requireID()).first()
        let selectedParent = unitForm.values["parent_id"] ?? ""
        _ = selectedParent
        return ShowView(
            id: institution.id!.uuidString, name: localized(institution.names, req.locale),
            otherNames: UILocale.allCases.compactMap { locale in
                institution.names[locale.rawValue].map { Choice(value: locale.rawValue, label: $0, selected: false) }
            },
            shortName: institution.shortName, country: countries[institution.countryCode] ?? institution.countryCode,
            city: institution.city, kind: req.t("institution.kind.\(institution.kind.rawValue)"), website: institution.website,
            units: ordered,
            structure: structure.map {
                .init(unitName: $0.unitName, mandate: $0.mandate, staffFTE: req.formatNumber($0.staffFTE, fractionDigits: 1),
                      reportsTo: $0.reportsTo, status: req.t("structure.status.\($0.status.rawValue)"))
            },
            canManage: institution.place.map { actor?.canManage($0) ?? false } ?? false,
            unitKinds: OrgUnit.Kind.allCases.map { .init(value: $0.rawValue, label: req.t("unit.kind.\($0.rawValue)"), selected: $0.rawValue == unitForm.values["unit_kind"]) },
            unitForm: unitForm)
    }

    func show(req: Request) async throws -> Response {
        let institution = try await find(req)
        return try await req.page("institutions/show", titleKey: "institution.title", titleArguments: [localized(institution.names, req.locale)],
                                  showView(req, institution))
    }

    // MARK: create and edit

    struct FormView: Encodable {
        struct NameField: Encodable {
            var locale: String
            var label: String
            var value: String
            var field: String
        }
        var form: FormState
        var action: String
        var isNew: Bool
        var names: [NameField]
        var countries: [Choice]
        var kinds: [Choice]
    }

    struct InstitutionForm: Content {
        var names: [String: String]?
        var short_name: String?
        var country_code: String?
        var city: String?
        var website: String?
        var kind: String?
    }

    func formView(_ req: Request, actor: Actor, action: String, isNew: Bool, values: [String: String], names: [String: String],
                  form: FormState = FormState()) async throws -> FormView {
        var form = form
        for (key, value) in values where form.values[key] == nil { form.values[key] = value }
        let countries = try await Country.query(on: req.db).all()
            .filter { isNew ? actor.canManageCountry($0.code) : true }
            .map { Choice(value: $0.code, label: localized($0.names, req.locale), selected: $0.code == form.values["country_code"]) }
            .sorted { $0.label < $1.label }
        return FormView(
            form: form, action: action, isNew: isNew,
            names: UILocale.allCases.map { .init(locale: $0.rawValue, label: $0.nativeName, value: names[$0.rawValue] ?? "",
                                                field: $0 == .en ? "name_en" : "name_\($0.rawValue)") },
            countries: countries,
            kinds: Institution.Kind.allCases.map { .init(value: $0.rawValue, label: req.t("institution.kind.\($0.rawValue)"), selected: $0.rawValue == form.values["kind"]) })
    }

    func input(_ form: InstitutionForm) -> OrganisationService.InstitutionInput {
        .init(names: form.names ?? [:], shortName: form.short_name ?? "", countryCode: form.country_code ?? "",
              city: form.city ?? "", website: form.website, kind: form.kind ?? "")
    }

    static func values(_ form: InstitutionForm) -> [String: String] {
        ["short_name": form.short_name ?? "", "country_code": form.country_code ?? "", "city": form.city ?? "",
         "website": form.website ?? "", "kind": form.kind ?? ""]
    }

    func newForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard actor.isAdmin || actor.isRegionalCoordinator || !actor.coordinatedCountries.isEmpty else { throw Forbidden() }
        let view = try await formView(req, actor: actor, action: "/institutions", isNew: true,
                                      values: ["kind": "public_university", "country_code": actor.coordinatedCountries.first ?? ""], names: [:])
        return try await req.page("institutions/form", titleKey: "institutions.new", view)
    }

    func create(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let body = try req.content.decode(InstitutionForm.self)
        do {
            let institution = try await req.organisation.create(input(body), by: actor)
            req.flash("success", "institutions.saved")
            return req.seeOther("/institutions/\(institution.id!.uuidString)")
        } catch let errors as FieldErrors {
            var form = FormState()
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            let view = try await formView(req, actor: actor, action: "/institutions", isNew: true, values: Self.values(body),
                                          names: body.names ?? [:], form: form)
            return try await req.page("institutions/form", titleKey: "institutions.new", view, status: .unprocessableEntity)
        }
    }

    func editForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let institution = try await find(req)
        guard let place = institution.place, actor.canManage(place) else { throw Forbidden() }
        let view = try await formView(
            req, actor: actor, action: "/institutions/\(place.institutionID.uuidString)", isNew: false,
            values: ["short_name": institution.shortName, "country_code": institution.countryCode, "city": institution.city,
                     "website": institution.website ?? "", "kind": institution.kind.rawValue],
            names: institution.names)
        return try await req.page("institutions/form", titleKey: "institutions.edit", view)
    }

    func update(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let institution = try await find(req)
        let body = try req.content.decode(InstitutionForm.self)
        do {
            try await req.organisation.update(institution, input(body), by: actor)
            req.flash("success", "institutions.saved")
            return req.seeOther("/institutions/\(institution.id!.uuidString)")
        } catch let errors as FieldErrors {
            var form = FormState()
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            let view = try await formView(req, actor: actor, action: "/institutions/\(institution.id!.uuidString)", isNew: false,
                                          values: Self.values(body), names: body.names ?? [:], form: form)
            return try await req.page("institutions/form", titleKey: "institutions.edit", view, status: .unprocessableEntity)
        }
    }

    // MARK: org units

    func addUnit(req: Request) async throws -> Response {
        struct Input: Content { var unit_name: String?; var unit_kind: String?; var parent_id: String? }
        let actor = try await req.requireActor()
        let institution = try await find(req)
        let input = try req.content.decode(Input.self)
        do {
            try await req.organisation.addUnit(to: institution, name: input.unit_name ?? "", kind: input.unit_kind ?? "",
                                               parentID: input.parent_id.flatMap { UUID(uuidString: $0) }, by: actor)
            req.flash("success", "units.added")
            return req.seeOther("/institutions/\(institution.id!.uuidString)#units")
        } catch let errors as FieldErrors {
            var form = FormState(values: ["unit_name": input.unit_name ?? "", "unit_kind": input.unit_kind ?? "", "parent_id": input.parent_id ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("institutions/show", titleKey: "institution.title", titleArguments: [localized(institution.names, req.locale)],
                                      showView(req, institution, unitForm: form), status: .unprocessableEntity)
        }
    }

    func removeUnit(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let institution = try await find(req)
        guard let unitID = req.parameters.get("unitID", as: UUID.self) else { throw Abort(.notFound) }
        do {
            try await req.organisation.removeUnit(unitID, of: institution, by: actor)
            req.flash("success", "units.removed")
        } catch let errors as FieldErrors {
            req.flash("error", errors.fields.first?.1 ?? "error.bad_request")
        }
        return req.seeOther("/institutions/\(institution.id!.uuidString)#units")
    }

    // MARK: IaH structure

    struct StructureView: Encodable {
        var form: FormState
        var action: String
        var institution: String
        var statuses: [Choice]
    }

    func structureForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let institution = try await find(req)
        guard let place = institution.place, actor.canManage(place) else { throw Forbidden() }
        let structure = try await IaHStructure.query(on: req.db).filter(\.$institution.$id == place.institutionID).first()
        let form = FormState(values: [
            "unit_name": structure?.unitName ?? "", "mandate": structure?.mandate ?? "",
            "staff_fte": structure.map { String($0.staffFTE) } ?? "0", "reports_to": structure?.reportsTo ?? "",
            "status": structure?.status.rawValue ?? "planned",
        ])
        return try await req.page("institutions/structure", titleKey: "structure.title", structureView(req, institution, form))
    }

    func structureView(_ req: Request, _ institution: Institution, _ form: FormState) -> StructureView {
        StructureView(form: form, action: "/institutions/\(institution.id!.uuidString)/structure",
                      institution: localized(institution.names, req.locale),
                      statuses: IaHStructure.Status.allCases.map { .init(value: $0.rawValue, label: req.t("structure.status.\($0.rawValue)"), selected: $0.rawValue == form.values["status"]) })
    }

    func saveStructure(req: Request) async throws -> Response {
        struct Input: Content { var unit_name: String?; var mandate: String?; var staff_fte: String?; var reports_to: String?; var status: String? }
        let actor = try await req.requireActor()
        let institution = try await find(req)
        let input = try req.content.decode(Input.self)
        do {
            try await req.organisation.saveStructure(of: institution, .init(
                unitName: input.unit_name ?? "", mandate: input.mandate ?? "", staffFTE: input.staff_fte ?? "",
                reportsTo: input.reports_to ?? "", status: input.status ?? ""), by: actor)
            req.flash("success", "structure.saved")
            return req.seeOther("/institutions/\(institution.id!.uuidString)")
        } catch let errors as FieldErrors {
            var form = FormState(values: ["unit_name": input.unit_name ?? "", "mandate": input.mandate ?? "", "staff_fte": input.staff_fte ?? "",
                                          "reports_to": input.reports_to ?? "", "status": input.status ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("institutions/structure", titleKey: "structure.title", structureView(req, institution, form),
                                      status: .unprocessableEntity)
        }
    }
}
