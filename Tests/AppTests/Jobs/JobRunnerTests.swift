@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

/// Counts how often each job ran, across tasks.
final class RunLog: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [UUID: Int] = [:]
    func record(_ id: UUID) { lock.withLock { counts[id, default: 0] += 1 } }
    var snapshot: [UUID: Int] { lock.withLock { counts } }
}

@Suite("Background jobs", .serialized)
struct JobRunnerTests {
    @Test("two runners on one database run each of 1,000 jobs exactly once")
    func exactlyOnce() async throws {
        try await withInterba(seed: false) { app in
            let log = RunLog()
            var ids: [UUID] = []
            for chunk in stride(from: 0, to: 1000, by: 250) {
                let jobs = (chunk..<chunk + 250).map { Job(kind: "test.count", payload: "{\"n\":\($0)}", runAt: Date().addingTimeInterval(-1), maxAttempts: 3) }
                try await jobs.create(on: app.db)
                ids += jobs.compactMap(\.id)
            }
            let runners = [JobRunner(app: app, owner: "runner-a"), JobRunner(app: app, owner: "runner-b")]
            for runner in runners {
                runner.batchSize = 25
                runner.register("test.count") { job, _ in
                    log.record(job.id!)
                    try await Task.sleep(nanoseconds: 200_000)
                }
            }
            async let a = runners[0].drain()
            async let b = runners[1].drain()
            let (ranA, ranB) = try await (a, b)
            let counts = log.snapshot
            #expect(counts.count == 1000)
            #expect(counts.values.allSatisfy { $0 == 1 })
            #expect(ranA + ranB == 1000)
            #expect(try await Job.query(on: app.db).filter(\.$state == .done).count() == 1000)
            #expect(Set(counts.keys) == Set(ids))
        }
    }

    @Test("failures retry with growing pauses, then stay failed for an admin to see and retry")
    func retries() async throws {
        try await withInterba(seed: true) { app in
            let clock = ManualClock(Date())
            let runner = JobRunner(app: app, owner: "solo")
            runner.now = { clock.now }
            runner.backoffBase = 60
            let log = RunLog()
            runner.register("test.fail") { job, _ in
                log.record(job.id!)
                throw Abort(.serviceUnavailable, reason: "Moodle is down")
            }
            let job = try await JobQueue.enqueue("test.fail", ["x": 1], runAt: clock.now, maxAttempts: 3, on: app.db)
            #expect(try await runner.drain() == 1)
            var stored = try #require(try await Job.find(job.id, on: app.db))
            #expect(stored.state == .queued)
            #expect(stored.attempts == 1)
            #expect(stored.lastError?.contains("Moodle is down") == true)
            #expect(abs(stored.runAt.timeIntervalSince(clock.now) - 60) < 1)
            // Not due yet: nothing runs.
            #expect(try await runner.drain() == 0)
            clock.advance(61)
            #expect(try await runner.drain() == 1)
            stored = try #require(try await Job.find(job.id, on: app.db))
            #expect(abs(stored.runAt.timeIntervalSince(clock.now) - 120) < 1, "the second pause is twice the first")
            clock.advance(121)
            #expect(try await runner.drain() == 1)
            stored = try #require(try await Job.find(job.id, on: app.db))
            #expect(stored.state == .failed)
            #expect(stored.attempts == 3)
            clock.advance(10_000)
            #expect(try await runner.drain() == 0)
            #expect(log.snapshot[job.id!] == 3)

            let admin = WebClient(app)
            try await admin.signIn(demo("admin"))
            let page = try await admin.get("/admin/jobs")
            #expect(page.status == .ok)
            #expect(page.body.string.contains("Moodle is down"))
            #expect(try await admin.post("/admin/jobs/\(job.id!.uuidString)/retry", []).status == .seeOther)
            #expect(try await Job.find(job.id, on: app.db)?.state == .queued)
            let staff = WebClient(app)
            try await staff.signIn(demo("staff.tirana"))
            #expect(try await staff.get("/admin/jobs").status == .forbidden)
        }
    }

    @Test("a lease that runs out (a crashed server) makes the job claimable again; the old holder cannot finish it")
    func leases() async throws {
        try await withInterba(seed: false) { app in
            let clock = ManualClock(Date())
            let first = JobRunner(app: app, owner: "crashed")
            let second = JobRunner(app: app, owner: "alive")
            for runner in [first, second] {
                runner.now = { clock.now }
                runner.leaseSeconds = 60
                runner.register("test.ok") { _, _ in }
            }
            let job = try await JobQueue.enqueue("test.ok", ["y": 2], runAt: clock.now, on: app.db)
            #expect(try await first.claim().count == 1)
            #expect(try await second.claim().isEmpty, "leased to the first runner")
            clock.advance(61)
            let reclaimed = try await second.claim()
            #expect(reclaimed.map(\.id) == [job.id])
            // The first runner wakes up and tries to record its outcome: its lease is gone, nothing changes.
            let stale = try #require(try await Job.find(job.id, on: app.db))
            stale.leaseOwner = "crashed"
            await first.run(stale)
            #expect(try await Job.find(job.id, on: app.db)?.state == .running)
            await second.run(reclaimed[0])
            #expect(try await Job.find(job.id, on: app.db)?.state == .done)
        }
    }
}

/// A clock tests move by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date) { current = start }
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}
