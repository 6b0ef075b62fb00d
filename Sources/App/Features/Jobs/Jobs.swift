import Fluent
import FluentSQL
import Vapor

/// A unit of background work in the database: offer expiry, escalation sweeps, mail delivery, Moodle polls.
/// Any number of `interba serve` processes share the table; a job is leased by one of them at a time.
final class Job: Model, @unchecked Sendable {
    static let schema = "jobs"

    enum State: String, Codable, CaseIterable, Sendable {
        case queued, running, done, failed
    }

    @ID(key: .id) var id: UUID?
    @Field(key: "kind") var kind: String
    /// JSON the handler reads.
    @Field(key: "payload") var payload: String
    @Enum(key: "state") var state: State
    @Field(key: "run_at") var runAt: Date
    @Field(key: "attempts") var attempts: Int
    @Field(key: "max_attempts") var maxAttempts: Int
    @OptionalField(key: "last_error") var lastError: String?
    @OptionalField(key: "lease_owner") var leaseOwner: String?
    @OptionalField(key: "lease_expires_at") var leaseExpiresAt: Date?
    @OptionalField(key: "finished_at") var finishedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(kind: String, payload: String, runAt: Date, maxAttempts: Int) {
        self.kind = kind
        self.payload = payload
        self.state = .queued
        self.runAt = runAt
        self.attempts = 0
        self.maxAttempts = maxAttempts
    }
}

struct CreateJobs: AsyncMigration {
    var name: String { "0010_create_jobs" }

    func prepare(on db: any Database) async throws {
        try await db.schema(Job.schema)
            .id()
            .field("kind", .string, .required)
            .field("payload", .string, .required)
            .field("state", .string, .required)
            .field("run_at", .datetime, .required)
            .field("attempts", .int, .required)
            .field("max_attempts", .int, .required)
            .field("last_error", .string)
            .field("lease_owner", .string)
            .field("lease_expires_at", .datetime)
            .field("finished_at", .datetime)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        if let sql = db as? any SQLDatabase {
            try await sql.raw("CREATE INDEX jobs_due ON jobs (state, run_at)").run()
        }
    }

    func revert(on db: any Database) async throws {
        try await db.schema(Job.schema).delete()
    }
}

/// Puts work in the queue.
enum JobQueue {
    @discardableResult
    static func enqueue<Payload: Encodable>(_ kind: String, _ payload: Payload, runAt: Date = Date(), maxAttempts: Int = 5,
                                            on db: any Database) async throws -> Job {
        let data = try JSONEncoder().encode(payload)
        let job = Job(kind: kind, payload: String(decoding: data, as: UTF8.self), runAt: runAt, maxAttempts: maxAttempts)
        try await job.create(on: db)
        return job
    }
}

extension JobQueue {
    /// Enqueues `kind` unless one is already waiting or running (recurring work: each run schedules the next).
    static func scheduleOnce(_ kind: String, runAt: Date, excluding current: UUID? = nil, on db: any Database) async throws {
        var query = Job.query(on: db).filter(\.$kind == kind).filter(\.$state ~~ [.queued, .running])
        if let current { query = query.filter(\.$id != current) }
        let pending = try await query.count()
        if pending == 0 { try await enqueue(kind, [String: String](), runAt: runAt, on: db) }
    }
}

/// Runs due jobs. Each claim is one atomic statement that leases rows to this runner:
/// on PostgreSQL `FOR UPDATE SKIP LOCKED` lets several runners claim disjoint rows at once; on SQLite the database
/// has a single writer, so the claiming UPDATE … RETURNING is serialised and two processes never claim the same row.
/// A runner only finishes jobs it still holds (the lease owner is checked), and an expired lease (a crashed process)
/// makes the job claimable again. Failures retry with exponential backoff until `maxAttempts`, then stay `failed`
/// for an admin to see and retry at /admin/jobs.
final class JobRunner: @unchecked Sendable {
    typealias Handler = @Sendable (Job, Application) async throws -> Void

    let app: Application
    let owner: String
    var leaseSeconds: Double = 120
    var batchSize: Int = 20
    var pollInterval: Double = 2
    var backoffBase: Double = 30
    var now: @Sendable () -> Date = { Date() }
    private let lock = NSLock()
    private var handlers: [String: Handler] = [:]
    private var task: Task<Void, Never>?

    init(app: Application, owner: String = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(8))") {
        self.app = app
        self.owner = owner
    }

    func register(_ kind: String, _ handler: @escaping Handler) {
        lock.withLock { handlers[kind] = handler }
    }

    /// Claims up to `batchSize` due jobs for this runner.
    func claim() async throws -> [Job] {
        guard let sql = app.db as? any SQLDatabase else { return [] }
        let now = self.now()
        let until = now.addingTimeInterval(leaseSeconds)
        let isPostgres = sql.dialect.name == "postgresql"
        let lockClause: SQLQueryString = isPostgres ? " FOR UPDATE SKIP LOCKED" : ""
        let rows = try await sql.raw("""
            UPDATE jobs SET state = 'running', lease_owner = \(bind: owner), lease_expires_at = \(bind: until),
              attempts = attempts + 1, updated_at = \(bind: now)
            WHERE id IN (SELECT id FROM jobs
                         WHERE (state = 'queued' AND run_at <= \(bind: now)) OR (state = 'running' AND lease_expires_at < \(bind: now))
                         ORDER BY run_at LIMIT \(bind: batchSize)\(lockClause))
            RETURNING id
            """).all()
        let ids = try rows.map { try $0.decode(column: "id", as: UUID.self) }
        guard !ids.isEmpty else { return [] }
        return try await Job.query(on: app.db).filter(\.$id ~~ ids).filter(\.$leaseOwner == owner).all()
    }

    /// Runs one job and records the outcome, if this runner still holds its lease.
    func run(_ job: Job) async {
        let handler = lock.withLock { handlers[job.kind] }
        var failure: String?
        if let handler {
            do { try await handler(job, app) } catch { failure = String(describing: error) }
        } else {
            failure = "no handler for job kind \(job.kind)"
        }
        do {
            guard let sql = app.db as? any SQLDatabase, let id = job.id else { return }
            let now = self.now()
            if let failure {
                let exhausted = job.attempts >= job.maxAttempts
                let retryAt = now.addingTimeInterval(backoffBase * pow(2, Double(max(0, job.attempts - 1))))
                try await sql.raw("""
                    UPDATE jobs SET state = \(bind: exhausted ? "failed" : "queued"), run_at = \(bind: exhausted ? job.runAt : retryAt),
                      last_error = \(bind: String(failure.prefix(2000))), lease_owner = NULL, lease_expires_at = NULL,
                      finished_at = \(bind: exhausted ? now : nil as Date?), updated_at = \(bind: now)
                    WHERE id = \(bind: id) AND lease_owner = \(bind: owner)
                    """).run()
                app.logger.warning("job \(job.kind) \(id) failed (attempt \(job.attempts) of \(job.maxAttempts)): \(failure)")
            } else {
                try await sql.raw("""
                    UPDATE jobs SET state = 'done', finished_at = \(bind: now), lease_owner = NULL, lease_expires_at = NULL, updated_at = \(bind: now)
                    WHERE id = \(bind: id) AND lease_owner = \(bind: owner)
                    """).run()
            }
        } catch {
            app.logger.error("job \(job.kind): could not record the outcome: \(error)")
        }
    }

    /// Claims and runs due jobs until none is left; returns how many ran.
    @discardableResult
    func drain() async throws -> Int {
        var count = 0
        while true {
            let jobs = try await claim()
            if jobs.isEmpty { return count }
            for job in jobs { await run(job) }
            count += jobs.count
        }
    }

    func start() {
        lock.withLock {
            guard task == nil else { return }
            task = Task { [weak self] in
                while !Task.isCancelled {
                    guard let self else { return }
                    do { try await self.drain() } catch { self.app.logger.error("job runner: \(error)") }
                    try? await Task.sleep(nanoseconds: UInt64(self.pollInterval * 1_000_000_000))
                }
            }
        }
    }

    func stop() async {
        let running = lock.withLock { () -> Task<Void, Never>? in
            let current = task
            task = nil
            return current
        }
        running?.cancel()
        _ = await running?.value
    }
}

struct JobRunnerKey: StorageKey { typealias Value = JobRunner }

extension Application {
    /// This process's job runner (handlers are registered at start-up; it polls only under `serve`).
    var jobs: JobRunner {
        if let runner = storage[JobRunnerKey.self] { return runner }
        let runner = JobRunner(app: self)
        storage[JobRunnerKey.self] = runner
        return runner
    }
}

/// Starts the runner when the server starts and stops it before shutdown.
struct JobRunnerLifecycle: LifecycleHandler {
    func didBootAsync(_ app: Application) async throws {
        guard app.environment != .testing, StartupBanner.isServe(app) else { return }
        try await JobQueue.scheduleOnce(RequestService.sweepJob, runAt: Date(), on: app.db)
        try await JobQueue.scheduleOnce(MoodleSync.pollJob, runAt: Date().addingTimeInterval(60), on: app.db)
        app.jobs.start()
    }

    func shutdownAsync(_ app: Application) async {
        await app.jobs.stop()
    }
}
