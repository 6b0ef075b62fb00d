import Fluent

struct CreateReferenceData: AsyncMigration {
    var name: String { "0002_create_reference_data" }

    func prepare(on db: any Database) async throws {
        try await db.schema("areas")
            .id()
            .field("code", .string, .required).unique(on: "code")
            .field("position", .int, .required)
            .field("names", .json, .required)
            .field("descriptions", .json, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("activity_types")
            .id()
            .field("code", .string, .required).unique(on: "code")
            .field("area_code", .string, .required)
            .field("names", .json, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("licences")
            .id()
            .field("spdx", .string, .required).unique(on: "spdx")
            .field("name", .string, .required)
            .field("url", .string)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("languages")
            .id()
            .field("tag", .string, .required).unique(on: "tag")
            .field("native", .string, .required)
            .field("names", .json, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("resource_types")
            .id()
            .field("code", .string, .required).unique(on: "code")
            .field("names", .json, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
    }

    func revert(on db: any Database) async throws {
        for table in ["resource_types", "languages", "licences", "activity_types", "areas"] {
            try await db.schema(table).delete()
        }
    }
}

/// Reference data is shipped with the platform: load it on migration so every database has it.
struct SeedReferenceData: AsyncMigration {
    var name: String { "0003_seed_reference_data" }

    func prepare(on db: any Database) async throws {
        try await ReferenceSeed.load().insertMissing(on: db)
    }

    func revert(on db: any Database) async throws {}
}
