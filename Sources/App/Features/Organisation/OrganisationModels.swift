import Fluent
import Vapor

final class Region: Model, @unchecked Sendable {
    static let schema = "regions"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "names") var names: [String: String]
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?
    init() {}
    init(code: String, names: [String: String]) {
        self.code = code
        self.names = names
    }
}

/// A country by ISO 3166-1 alpha-2 code (Kosovo: `XK`).
final class Country: Model, @unchecked Sendable {
    static let schema = "countries"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "region_code") var regionCode: String
    @Field(key: "names") var names: [String: String]
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?
    init() {}
    init(code: String, regionCode: String, names: [String: String]) {
        self.code = code
        self.regionCode = regionCode
        self.names = names
    }
}

final class Institution: Model, @unchecked Sendable {
    static let schema = "institutions"

    enum Kind: String, Codable, CaseIterable {
        case publicUniversity = "public_university"
        case privateUniversity = "private_university"
        case researchCentre = "research_centre"
        case ngo
    }

    @ID(key: .id) var id: UUID?
    @Field(key: "names") var names: [String: String]
    @Field(key: "short_name") var shortName: String
    @Field(key: "country_code") var countryCode: String
    @Field(key: "city") var city: String
    @OptionalField(key: "website") var website: String?
    @Enum(key: "kind") var kind: Kind
    /// Stable slug (demo users, URLs in docs); unique.
    @Field(key: "slug") var slug: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(id: UUID? = nil, slug: String, names: [String: String], shortName: String, countryCode: String,
         city: String, website: String?, kind: Kind) {
        self.id = id
        self.slug = slug
        self.names = names
        self.shortName = shortName
        self.countryCode = countryCode
        self.city = city
        self.website = website
        self.kind = kind
    }

    var place: InstitutionPlace? {
        id.map { InstitutionPlace(institutionID: $0, countryCode: countryCode) }
    }
}

/// Faculty, department, programme or office; nested through `parent`.
final class OrgUnit: Model, @unchecked Sendable {
    static let schema = "org_units"

    enum Kind: String, Codable, CaseIterable {
        case faculty, department, programme, office
    }

    @ID(key: .id) var id: UUID?
    @Parent(key: "institution_id") var institution: Institution
    @OptionalParent(key: "parent_id") var parent: OrgUnit?
    @Enum(key: "kind") var kind: Kind
    @Field(key: "name") var name: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(institutionID: UUID, parentID: UUID?, kind: Kind, name: String) {
        self.$institution.id = institutionID
        self.$parent.id = parentID
        self.kind = kind
        self.name = name
    }
}

/// How an institution organises Internationalisation at Home (DESIGN.md section 1).
final class IaHStructure: Model, @unchecked Sendable {
    static let schema = "iah_structures"

    enum Status: String, Codable, CaseIterable {
        case planned, established, modernised
    }

    @ID(key: .id) var id: UUID?
    @Parent(key: "institution_id") var institution: Institution
    @Field(key: "unit_name") var unitName: String
    @Field(key: "mandate") var mandate: String
    @Field(key: "staff_fte") var staffFTE: Double
    @Field(key: "reports_to") var reportsTo: String
    @Enum(key: "status") var status: Status
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(institutionID: UUID, unitName: String, mandate: String, staffFTE: Double, reportsTo: String, status: Status) {
        self.$institution.id = institutionID
        self.unitName = unitName
        self.mandate = mandate
        self.staffFTE = staffFTE
        self.reportsTo = reportsTo
        self.status = status
    }
}
