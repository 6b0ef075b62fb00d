import Fluent

struct CreateOrganisation: AsyncMigration {
    var name: String { "0001_create_organisation" }

    func prepare(on db: any Database) async throws {
        try await db.schema("regions")
            .id()
            .field("code", .string, .required).unique(on: "code")
            .field("names", .json, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("countries")
            .id()
            .field("code", .string, .required).unique(on: "code")
            .field("region_code", .string, .required)
            .field("names", .json, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("institutions")
            .id()
            .field("slug", .string, .required).unique(on: "slug")
            .field("names", .json, .required)
            .field("short_name", .string, .required)
            .field("country_code", .string, .required)
            .field("city", .string, .required)
            .field("website", .string)
            .field("kind", .string, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("org_units")
            .id()
            .field("institution_id", .uuid, .required, .references("institutions", "id"))
            .field("parent_id", .uuid, .references("org_units", "id"))
            .field("kind", .string, .required)
            .field("name", .string, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("iah_structures")
            .id()
            .field("institution_id", .uuid, .required, .references("institutions", "id")).unique(on: "institution_id")
            .field("unit_name", .string, .required)
            .field("mandate", .string, .required)
            .field("staff_fte", .double, .required)
            .field("reports_to", .string, .required)
            .field("status", .string, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
    }

    func revert(on db: any Database) async throws {
        for table in ["iah_structures", "org_units", "institutions", "countries", "regions"] {
            try await db.schema(table).delete()
        }
    }
}
