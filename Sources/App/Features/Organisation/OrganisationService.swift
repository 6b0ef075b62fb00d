import Fluent
import Vapor

/// Institutions, org units and IaH structures: validation and who may change what.
struct OrganisationService {
    let db: any Database
    let audit: AuditContext

    struct InstitutionInput {
        var names: [String: String]
        var shortName: String
        var countryCode: String
        var city: String
        var website: String?
        var kind: String
    }

    static let slugAlphabet = Set("abcdefghijklmnopqrstuvwxyz0123456789-")

    static func slug(from text: String) -> String {
        let folded = text.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil).lowercased()
        let mapped = folded.map { Self.slugAlphabet.contains($0) ? $0 : "-" }
        return String(mapped).split(separator: "-").joined(separator: "-")
    }

    func validate(_ input: InstitutionInput) async throws -> (Institution.Kind, [String: String]) {
        var errors: [(String, String)] = []
        let names = input.names.mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.value.isEmpty }
        if (names["en"] ?? "").isEmpty { errors.append(("name_en", "validation.name_required")) }
        if names.values.contains(where: { $0.count > 300 }) { errors.append(("name_en", "validation.name_long")) }
        let short = input.shortName.trimmingCharacters(in: .whitespaces)
        if short.isEmpty || short.count > 30 { errors.append(("short_name", "validation.short_name")) }
        if try await Country.query(on: db).filter(\.$code == input.countryCode).first() == nil {
            errors.append(("country_code", "validation.country_required"))
        }
        if input.city.trimmingCharacters(in: .whitespaces).isEmpty { errors.append(("city", "validation.city_required")) }
        if let website = input.website, !website.isEmpty {
            let lower = website.lowercased()
            if !(lower.hasPrefix("https://") || lower.hasPrefix("http://")) || URL(string: website)?.host == nil || website.contains(" ") {
                errors.append(("website", "validation.website_invalid"))
            }
        }
        let kind = Institution.Kind(rawValue: input.kind)
        if kind == nil { errors.append(("kind", "validation.kind_required")) }
        guard errors.isEmpty, let kind else { throw FieldErrors(errors) }
        return (kind, names)
    }

    func create(_ input: InstitutionInput, by actor: Actor) async throws -> Institution {
        guard actor.canManageCountry(input.countryCode) else { throw Forbidden() }
        let (kind, names) = try await validate(input)
        var slug = Self.slug(from: input.shortName)
        if slug.isEmpty { slug = "institution" }
        var candidate = slug
        var counter = 2
        while try await Institution.query(on: db).filter(\.$slug == candidate).first() != nil {
            candidate = "\(slug)-\(counter)"
            counter += 1
        }
        let institution = Institution(slug: candidate, names: names, shortName: input.shortName.trimmingCharacters(in: .whitespaces),
                                      countryCode: input.countryCode, city: input.city.trimmingCharacters(in: .whitespaces),
                                      website: input.website.flatMap { $0.isEmpty ? nil : $0 }, kind: kind)
        try await institution.create(on: db)
        try await audit.record(.organisationChanged, "created institution \(institution.shortName)", on: db)
        return institution
    }

    func update(_ institution: Institution, _ input: InstitutionInput, by actor: Actor) async throws {
        guard let place = institution.place, actor.canManage(place) else { throw Forbidden() }
        // Moving an institution to another country needs authority over that country too.
        if input.countryCode != institution.countryCode, !actor.canManageCountry(input.countryCode) { throw Forbidden() }
        let (kind, names) = try await validate(input)
        institution.names = names
        institution.shortName = input.shortName.trimmingCharacters(in: .whitespaces)
        institution.countryCode = input.countryCode
        institution.city = input.city.trimmingCharacters(in: .whitespaces)
        institution.website = input.website.flatMap { $0.isEmpty ? nil : $0 }
        institution.kind = kind
        try await institution.save(on: db)
        try await audit.record(.organisationChanged, "updated institution \(institution.shortName)", on: db)
    }

    func addUnit(to institution: Institution, name: String, kind rawKind: String, parentID: UUID?, by actor: Actor) async throws {
        guard let place = institution.place, actor.canManage(place) else { throw Forbidden() }
        var errors: [(String, String)] = []
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty || trimmed.count > 300 { errors.append(("unit_name", "validation.name_required")) }
        let kind = OrgUnit.Kind(rawValue: rawKind)
        if kind == nil { errors.append(("unit_kind", "validation.kind_required")) }
        if let parentID {
            let parent = try await OrgUnit.find(parentID, on: db)
            if parent?.$institution.id != place.institutionID { errors.append(("parent_id", "validation.org_unit_invalid")) }
        }
        guard errors.isEmpty, let kind else { throw FieldErrors(errors) }
        try await OrgUnit(institutionID: place.institutionID, parentID: parentID, kind: kind, name: trimmed).create(on: db)
        try await audit.record(.organisationChanged, "added unit \(trimmed) to \(institution.shortName)", on: db)
    }

    /// Removes an empty unit (no sub-units, nobody assigned to it).
    func removeUnit(_ unitID: UUID, of institution: Institution, by actor: Actor) async throws {
        guard let place = institution.place, actor.canManage(place) else { throw Forbidden() }
        guard let unit = try await OrgUnit.find(unitID, on: db), unit.$institution.id == place.institutionID else { throw Abort(.notFound) }
        let children = try await OrgUnit.query(on: db).filter(\.$parent.$id == unitID).count()
        let people = try await User.query(on: db).filter(\.$orgUnit.$id == unitID).count()
        guard children == 0, people == 0 else { throw FieldErrors([("unit", "validation.unit_in_use")]) }
        try await unit.delete(on: db)
        try await audit.record(.organisationChanged, "removed unit \(unit.name) from \(institution.shortName)", on: db)
    }

    struct StructureInput {
        var unitName: String
        var mandate: String
        var staffFTE: String
        var reportsTo: String
        var status: String
    }

    func saveStructure(of institution: Institution, _ input: StructureInput, by actor: Actor) async throws {
        guard let place = institution.place, actor.canManage(place) else { throw Forbidden() }
        var errors: [(String, String)] = []
        if input.unitName.trimmingCharacters(in: .whitespaces).isEmpty { errors.append(("unit_name", "validation.name_required")) }
        let fte = Double(input.staffFTE.replacingOccurrences(of: ",", with: ".").trimmingCharacters(in: .whitespaces))
        if fte == nil || fte! < 0 || fte! > 1000 { errors.append(("staff_fte", "validation.fte")) }
        let status = IaHStructure.Status(rawValue: input.status)
        if status == nil { errors.append(("status", "validation.kind_required")) }
        guard errors.isEmpty, let fte, let status else { throw FieldErrors(errors) }
        let structure = try await IaHStructure.query(on: db).filter(\.$institution.$id == place.institutionID).first()
            ?? IaHStructure(institutionID: place.institutionID, unitName: "", mandate: "", staffFTE: 0, reportsTo: "", status: .planned)
        structure.unitName = input.unitName.trimmingCharacters(in: .whitespaces)
        structure.mandate = input.mandate.trimmingCharacters(in: .whitespacesAndNewlines)
        structure.staffFTE = fte
        structure.reportsTo = input.reportsTo.trimmingCharacters(in: .whitespaces)
        structure.status = status
        try await structure.save(on: db)
        try await audit.record(.organisationChanged, "IaH structure of \(institution.shortName)", on: db)
    }
}

extension Request {
    var organisation: OrganisationService { OrganisationService(db: db, audit: auditContext) }
}
