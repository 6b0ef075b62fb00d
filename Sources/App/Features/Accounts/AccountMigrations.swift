import Fluent

struct CreateAccounts: AsyncMigration {
    var name: String { "0004_create_accounts" }

    func prepare(on db: any Database) async throws {
        try await db.schema("users")
            .id()
            .field("email", .string, .required).unique(on: "email")
            .field("name", .string, .required)
            .field("password_hash", .string, .required)
            .field("status", .string, .required)
            .field("institution_id", .uuid, .references("institutions", "id"))
            .field("org_unit_id", .uuid, .references("org_units", "id"))
            .field("preferred_locale", .string)
            .field("languages", .array(of: .string), .required)
            .field("failed_sign_ins", .int, .required)
            .field("locked_until", .datetime)
            .field("last_sign_in_at", .datetime)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("role_assignments")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("role", .string, .required)
            .field("scope_id", .string)
            .field("granted_by_id", .uuid)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .unique(on: "user_id", "role", "scope_id")
            .create()
        try await db.schema("personal_access_tokens")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("name", .string, .required)
            .field("token_hash", .string, .required).unique(on: "token_hash")
            .field("prefix", .string, .required)
            .field("last_used_at", .datetime)
            .field("revoked_at", .datetime)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("one_time_links")
            .id()
            .field("purpose", .string, .required)
            .field("token_hash", .string, .required).unique(on: "token_hash")
            .field("email", .string, .required)
            .field("user_id", .uuid)
            .field("institution_id", .uuid)
            .field("role", .string)
            .field("created_by_id", .uuid)
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("sign_in_throttles")
            .id()
            .field("key", .string, .required).unique(on: "key")
            .field("failures", .int, .required)
            .field("window_start", .datetime, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
    }

    func revert(on db: any Database) async throws {
        for table in ["sign_in_throttles", "one_time_links", "personal_access_tokens", "role_assignments", "users"] {
            try await db.schema(table).delete()
        }
    }
}

struct CreateOperations: AsyncMigration {
    var name: String { "0005_create_audit_and_outbox" }

    func prepare(on db: any Database) async throws {
        try await db.schema("audit_events")
            .id()
            .field("kind", .string, .required)
            .field("actor_id", .uuid)
            .field("actor_email", .string)
            .field("subject", .string, .required)
            .field("ip", .string)
            .field("request_id", .string)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("outbox_messages")
            .id()
            .field("recipient", .string, .required)
            .field("subject", .string, .required)
            .field("body", .string, .required)
            .field("status", .string, .required)
            .field("error", .string)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
    }

    func revert(on db: any Database) async throws {
        try await db.schema("outbox_messages").delete()
        try await db.schema("audit_events").delete()
    }
}
