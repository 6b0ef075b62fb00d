import Fluent
import Vapor

/// A person with an account. Sign-up creates a `pending` account that a coordinator approves.
final class User: Model, @unchecked Sendable {
    static let schema = "users"

    enum Status: String, Codable, CaseIterable {
        case pending, active, rejected, disabled
    }

    @ID(key: .id) var id: UUID?
    @Field(key: "email") var email: String
    @Field(key: "name") var name: String
    @Field(key: "password_hash") var passwordHash: String
    @Enum(key: "status") var status: Status
    @OptionalParent(key: "institution_id") var institution: Institution?
    @OptionalParent(key: "org_unit_id") var orgUnit: OrgUnit?
    @OptionalField(key: "preferred_locale") var preferredLocale: String?
    @Field(key: "languages") var languages: [String]
    @Field(key: "failed_sign_ins") var failedSignIns: Int
    @OptionalField(key: "locked_until") var lockedUntil: Date?
    @OptionalField(key: "last_sign_in_at") var lastSignInAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    @Children(for: \.$user) var roles: [RoleAssignment]

    init() {}

    init(id: UUID? = nil, email: String, name: String, passwordHash: String, status: Status,
         institutionID: UUID?, preferredLocale: String? = nil, languages: [String] = []) {
        self.id = id
        self.email = email
        self.name = name
        self.passwordHash = passwordHash
        self.status = status
        self.$institution.id = institutionID
        self.$orgUnit.id = nil
        self.preferredLocale = preferredLocale
        self.languages = languages
        self.failedSignIns = 0
    }
}

extension User: ModelSessionAuthenticatable {}

/// One role a person holds, in one scope (DESIGN.md section 1).
final class RoleAssignment: Model, @unchecked Sendable {
    static let schema = "role_assignments"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "role") var role: String
    /// Country code for country-scoped roles, institution id for institution-scoped roles, nil for platform roles.
    @OptionalField(key: "scope_id") var scopeID: String?
    @OptionalField(key: "granted_by_id") var grantedByID: UUID?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(userID: UUID, role: Role, scopeID: String?, grantedByID: UUID?) {
        self.$user.id = userID
        self.role = role.rawValue
        self.scopeID = scopeID
        self.grantedByID = grantedByID
    }

    var grant: RoleGrant? {
        Role(rawValue: role).map { RoleGrant(role: $0, scopeID: scopeID) }
    }
}

/// A personal access token for the API. Only a SHA-256 hash of the secret is stored.
final class PersonalAccessToken: Model, @unchecked Sendable {
    static let schema = "personal_access_tokens"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "name") var name: String
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "prefix") var prefix: String
    @OptionalField(key: "last_used_at") var lastUsedAt: Date?
    @OptionalField(key: "revoked_at") var revokedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(userID: UUID, name: String, tokenHash: String, prefix: String) {
        self.$user.id = userID
        self.name = name
        self.tokenHash = tokenHash
        self.prefix = prefix
    }
}

/// A one-time link: password reset or invitation. Only the hash of the secret is stored.
final class OneTimeLink: Model, @unchecked Sendable {
    static let schema = "one_time_links"

    enum Purpose: String, Codable {
        case passwordReset = "password_reset"
        case invitation
    }

    @ID(key: .id) var id: UUID?
    @Enum(key: "purpose") var purpose: Purpose
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "email") var email: String
    @OptionalField(key: "user_id") var userID: UUID?
    @OptionalField(key: "institution_id") var institutionID: UUID?
    @OptionalField(key: "role") var role: String?
    @OptionalField(key: "created_by_id") var createdByID: UUID?
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(purpose: Purpose, tokenHash: String, email: String, userID: UUID?, institutionID: UUID?,
         role: String?, createdByID: UUID?, expiresAt: Date) {
        self.purpose = purpose
        self.tokenHash = tokenHash
        self.email = email
        self.userID = userID
        self.institutionID = institutionID
        self.role = role
        self.createdByID = createdByID
        self.expiresAt = expiresAt
    }
}

/// Counts failed sign-ins per key (`email:…`, `ip:…`) in a sliding window, shared by every server process.
final class SignInThrottle: Model, @unchecked Sendable {
    static let schema = "sign_in_throttles"

    @ID(key: .id) var id: UUID?
    @Field(key: "key") var key: String
    @Field(key: "failures") var failures: Int
    @Field(key: "window_start") var windowStart: Date
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(key: String, failures: Int, windowStart: Date) {
        self.key = key
        self.failures = failures
        self.windowStart = windowStart
    }
}
