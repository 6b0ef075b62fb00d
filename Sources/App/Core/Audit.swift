import Fluent
import Vapor

/// Security events (sign-in, failed sign-in, role change, token created…), visible to admins.
final class AuditEvent: Model, @unchecked Sendable {
    static let schema = "audit_events"

    enum Kind: String, Codable, CaseIterable {
        case signIn = "sign_in"
        case signInFailed = "sign_in_failed"
        case signInLocked = "sign_in_locked"
        case signOut = "sign_out"
        case signUp = "sign_up"
        case accountApproved = "account_approved"
        case accountRejected = "account_rejected"
        case invitationSent = "invitation_sent"
        case invitationAccepted = "invitation_accepted"
        case passwordResetRequested = "password_reset_requested"
        case passwordReset = "password_reset"
        case passwordChanged = "password_changed"
        case roleGranted = "role_granted"
        case roleRevoked = "role_revoked"
        case tokenCreated = "token_created"
        case tokenRevoked = "token_revoked"
        case referenceDataChanged = "reference_data_changed"
        case organisationChanged = "organisation_changed"
    }

    @ID(key: .id) var id: UUID?
    @Enum(key: "kind") var kind: Kind
    @OptionalField(key: "actor_id") var actorID: UUID?
    @OptionalField(key: "actor_email") var actorEmail: String?
    @Field(key: "subject") var subject: String
    @OptionalField(key: "ip") var ip: String?
    @OptionalField(key: "request_id") var requestID: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(kind: Kind, actorID: UUID?, actorEmail: String?, subject: String, ip: String?, requestID: String?) {
        self.kind = kind
        self.actorID = actorID
        self.actorEmail = actorEmail
        self.subject = subject
        self.ip = ip
        self.requestID = requestID
    }
}

/// Where an action came from, for the audit log. Services take this instead of a `Request`.
struct AuditContext: Sendable {
    var actorID: UUID?
    var actorEmail: String?
    var ip: String?
    var requestID: String?

    static let system = AuditContext(actorID: nil, actorEmail: "system", ip: nil, requestID: nil)

    func record(_ kind: AuditEvent.Kind, _ subject: String, on db: any Database) async throws {
        try await AuditEvent(kind: kind, actorID: actorID, actorEmail: actorEmail, subject: subject, ip: ip,
                             requestID: requestID).create(on: db)
    }
}

extension Request {
    var auditContext: AuditContext {
        let user = auth.get(User.self)
        return AuditContext(
            actorID: user?.id, actorEmail: user?.email,
            ip: headers.first(name: .xForwardedFor)?.split(separator: ",").first.map { String($0).trimmingCharacters(in: .whitespaces) }
                ?? remoteAddress?.ipAddress,
            requestID: logger[metadataKey: "request-id"].map { "\($0)" })
    }
}
