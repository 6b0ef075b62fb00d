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
        /// Waiting for the job runner to deliver it (again, after a failed attempt).
        case queued
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

/// Delivers through SMTP in the background: `send` keeps the mail in the outbox as queued and puts a `mail.send` job
/// in the same transaction (so a rolled-back change sends nothing); the job runner delivers it, retrying with backoff,
/// and the outbox records the result. A failed delivery never loses the mail.
struct SMTPMailer: Mailer {
    static let job = "mail.send"
    let client: SMTPClient
    let logger: Logger
    var maxAttempts = 5

    struct Payload: Codable { var outboxID: UUID }

    func send(_ message: MailMessage, on db: any Database) async throws {
        let stored = OutboxMessage(message: message, status: .queued)
        try await stored.create(on: db)
        try await JobQueue.enqueue(Self.job, Payload(outboxID: try stored.requireID()), maxAttempts: maxAttempts, on: db)
    }

    /// The job: delivers one queued mail. A failure is recorded and rethrown so the runner retries; after the last
    /// attempt the mail stays in the outbox as failed, with the reason.
    func deliver(_ job: Job, on db: any Database) async throws {
        let payload = try JSONDecoder().decode(Payload.self, from: Data(job.payload.utf8))
        guard let stored = try await OutboxMessage.find(payload.outboxID, on: db), stored.status != .sent else { return }
        do {
            try await client.send(MailMessage(to: stored.recipient, subject: stored.subject, body: stored.body))
            stored.status = .sent
            stored.error = nil
            try await stored.save(on: db)
        } catch {
            logger.error("SMTP delivery to \(stored.recipient) failed (attempt \(job.attempts) of \(job.maxAttempts)): \(error)")
            stored.status = job.attempts >= job.maxAttempts ? .failed : .queued
            stored.error = String("\(error)".prefix(2000))
            try await stored.save(on: db)
            throw error
        }
    }

    /// Makes this the application's mailer and registers its delivery job.
    func install(on app: Application) {
        app.mailer = self
        app.jobs.register(Self.job) { job, app in try await self.deliver(job, on: app.db) }
    }
}

struct MailerKey: StorageKey { typealias Value = any Mailer }

extension Application {
    var mailer: any Mailer {
        get { storage[MailerKey.self] ?? OutboxMailer() }
        set { storage[MailerKey.self] = newValue }
    }
}
