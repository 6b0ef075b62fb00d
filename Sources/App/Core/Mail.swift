import Fluent
import Vapor

/// One outgoing mail.
struct MailMessage: Sendable, Equatable {
    var to: String
    var subject: String
    var body: String
}

/// Sends mail. Every implementation also keeps a copy in the outbox, so admins can see what went out.
protocol Mailer: Sendable {
    func send(_ message: MailMessage, on db: any Database) async throws
}

/// A copy of every outgoing mail; with no SMTP server configured this is where mail is read.
final class OutboxMessage: Model, @unchecked Sendable {
    static let schema = "outbox_messages"

    enum Status: String, Codable {
        /// No mail server configured: kept here only.
        case stored
        case sent
        case failed
    }

    @ID(key: .id) var id: UUID?
    @Field(key: "recipient") var recipient: String
    @Field(key: "subject") var subject: String
    @Field(key: "body") var body: String
    @Enum(key: "status") var status: Status
    @OptionalField(key: "error") var error: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(message: MailMessage, status: Status, error: String? = nil) {
        self.recipient = message.to
        self.subject = message.subject
        self.body = message.body
        self.status = status
        self.error = error
    }
}

/// Keeps mail in the outbox table only (the default on a laptop with no mail server).
struct OutboxMailer: Mailer {
    func send(_ message: MailMessage, on db: any Database) async throws {
        try await OutboxMessage(message: message, status: .stored).create(on: db)
    }
}

/// Delivers through SMTP and records the result in the outbox; a failed delivery never loses the mail.
struct SMTPMailer: Mailer {
    let client: SMTPClient
    let logger: Logger

    func send(_ message: MailMessage, on db: any Database) async throws {
        do {
            try await client.send(message)
            try await OutboxMessage(message: message, status: .sent).create(on: db)
        } catch {
            logger.error("SMTP delivery to \(message.to) failed: \(error)")
            try await OutboxMessage(message: message, status: .failed, error: "\(error)").create(on: db)
        }
    }
}

struct MailerKey: StorageKey { typealias Value = any Mailer }

extension Application {
    var mailer: any Mailer {
        get { storage[MailerKey.self] ?? OutboxMailer() }
        set { storage[MailerKey.self] = newValue }
    }
}
