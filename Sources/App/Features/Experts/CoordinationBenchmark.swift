import Fluent
import FluentSQL
import Vapor

/// `interba bench-coordination [--experts 50000] [--requests 100000]`: the speed benchmark of the coordination model
/// (benchmarks/README.md): ranking N experts for one request (the pure match score, in memory), and the periodic sweep
/// over M open requests of which a few have an expired offer or a lapsed service level (setup apart, not measured).
struct BenchCoordinationCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "experts", help: "Experts to rank (default 50000)") var experts: Int?
        @Option(name: "requests", help: "Open requests for the sweep (default 100000)") var requests: Int?
        @Option(name: "lapsed", help: "Requests whose level time is up, and as many expired offers (default 100)") var lapsed: Int?
        @Option(name: "runs", help: "Timed rankings (default 30)") var runs: Int?
        @Flag(name: "keep", help: "Keep the generated requests") var keep: Bool
    }

    var help: String { "Benchmarks expert ranking and the escalation sweep (a scratch database only)." }

    typealias Bench = BenchNeedsAnalysisCommand

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let console = context.console
        let expertCount = max(10, signature.experts ?? 50_000)
        let requestCount = max(10, signature.requests ?? 100_000)
        let lapsed = max(0, min(signature.lapsed ?? 100, requestCount / 10))
        let runs = max(1, signature.runs ?? 30)
        let bench = try await BenchDatabase.prepare(app, name: "bench-coordination")
        defer { bench.cleanUp() }
        let db = bench.db
        console.print("Interba coordination benchmark — \(bench.label)")
        try await tuneSQLite(app)
        try await app.autoMigrate()
        let hasDemo = try await User.query(on: db).filter(\.$email == "admin@\(DemoSeeder.domain)").first() != nil
        if !hasDemo, try await User.query(on: db).count() > 0 {
            throw ConfigError("This database holds accounts but not the demo data set: bench-coordination only runs on a scratch database.")
        }
        if !hasDemo { _ = try await DemoSeeder.seed(app, on: db, withCampaigns: false, withRecords: false, withCoordination: false, withTraining: false) }

        // (1) Ranking: N candidates with 1–4 competencies, languages, formats, windows and load, for one request.
        var random = SplitMix(seed: 11)
        func pick<T>(_ list: [T]) -> T { list[Int(random.next() % UInt64(list.count))] }
        let areas = (1...13).map { "A\($0)" }
        let languages = ["en", "sq", "sr-Latn", "sr-Cyrl", "mk", "bs", "hr", "it"]
        let countries = ["AL", "XK", "BA", "ME", "MK", "RS", "GB", "IT"]
        let start = Date()
        let candidates: [ExpertCandidate] = (0..<expertCount).map { _ in
            var competencies: [String: Int] = [:]
            for _ in 0..<(1 + Int(random.next() % 4)) { competencies[pick(areas)] = 1 + Int(random.next() % 4) }
            let from = start.addingTimeInterval(Double(random.next() % 120) * 86400)
            return ExpertCandidate(id: UUID(), competencies: competencies, languages: [pick(languages), "en"],
                                   formats: [pick(RequestService.formats), pick(RequestService.formats)], capacity: 1 + Int(random.next() % 4),
                                   activeAssignments: Int(random.next() % 3),
                                   availability: [DateInterval(start: from, duration: Double(30 + random.next() % 90) * 86400)],
                                   quality: random.next() % 3 == 0 ? nil : Double(random.next() % 100) / 100, institutionID: UUID(),
                                   countryCode: pick(countries), regionCode: "WB", active: random.next() % 10 != 0)
        }
        let request = MatchRequest(areas: ["A4": 1, "A7": 1], languages: ["sq", "en"], formats: ["workshop"],
                                   window: DateInterval(start: start.addingTimeInterval(30 * 86400), duration: 30 * 86400),
                                   institutionID: UUID(), countryCode: "AL", regionCode: "WB")
        var ranked = 0
        var rows: [Bench.Row] = []
        rows.append(Bench.Row(name: "1  rank \(Bench.grouped(expertCount)) experts for one request", times: try await Bench.measure(runs) {
            ranked = Matching.rank(candidates, for: request, weights: .standard, rotation: Int(random.next() % 7)).count
        }, target: 50, onP95: true))

        // (2) The sweep over M open requests: insert them (setup), a few with a lapsed level time or an expired offer.
        var clock = ContinuousClock.now
        guard let requester = try await User.query(on: db).filter(\.$email == "staff.tirana@\(DemoSeeder.domain)").first(),
              let expertUser = try await User.query(on: db).filter(\.$email == "expert.tirana@\(DemoSeeder.domain)").first(),
              let tirana = requester.$institution.id else { throw ConfigError("demo people missing") }
        let profile = ExpertProfile()
        profile.$user.id = try expertUser.requireID()
        profile.$institution.id = tirana
        profile.status = .active; profile.level = .institutional; profile.source = .coordinator; profile.bio = ""
        profile.languages = ["en"]; profile.formats = ["workshop"]; profile.capacity = 1_000_000; profile.isPublic = false
        profile.ratingSum = 0; profile.ratingCount = 0
        try await profile.create(on: db)
        let now = Date()
        var ids: [UUID] = []
        for chunk in stride(from: 0, to: requestCount, by: 2000) {
            var batch: [KnowledgeRequest] = []
            for i in chunk..<min(chunk + 2000, requestCount) {
                let r = KnowledgeRequest()
                r.id = UUID()
                r.$requester.id = try requester.requireID()
                r.$institution.id = tirana
                r.title = "Benchmark request \(i)"
                r.gap = "A gap."; r.outcomes = ""; r.areas = [pick(areas)]; r.audienceRole = ""; r.audienceSize = 10
                r.formats = ["workshop"]; r.languages = ["en"]; r.urgency = .normal; r.constraints = ""; r.earlierAttempts = ""
                r.consentToShare = false
                let isLapsed = i < lapsed
                let hasExpiredOffer = i >= lapsed && i < 2 * lapsed
                r.state = (hasExpiredOffer ? RfKState.offered : (i % 3 == 0 ? RfKState.submitted : RfKState.matching)).rawValue
                r.level = 1 + i % 3
                r.levelSince = isLapsed ? now.addingTimeInterval(-40 * 86400) : now.addingTimeInterval(-Double(i % 3) * 86400)
                r.submittedAt = r.levelSince
                batch.append(r)
                ids.append(r.id!)
            }
            try await db.transaction { tx in
                for slice in stride(from: 0, to: batch.count, by: 500) { try await Array(batch[slice..<min(slice + 500, batch.count)]).create(on: tx) }
            }
        }
        for i in lapsed..<(2 * lapsed) {
            let offer = RequestOffer()
            offer.$request.id = ids[i]
            offer.$expert.id = try profile.requireID()
            offer.state = .open; offer.level = 1; offer.score = 0.7
            offer.components = MatchComponents(topic: 1, language: 1, format: 1, availability: 1, quality: 0.5, proximity: 1, load: 0)
            offer.expiresAt = now.addingTimeInterval(-3600)
            try await offer.create(on: db)
        }
        if bench.isPostgres {
            try await bench.sql.raw("ANALYZE knowledge_requests").run()
            try await bench.sql.raw("ANALYZE request_offers").run()
        }
        console.print("data: \(Bench.grouped(expertCount)) experts to rank (\(Bench.grouped(ranked)) eligible); \(Bench.grouped(requestCount)) open requests, "
                      + "\(lapsed) with their level's time up and \(lapsed) with an expired offer")
        console.print("setup (not measured): insert requests \(Bench.ms(ContinuousClock.now - clock))")
        console.print("build: \(Bench.isDebugBuild ? "debug" : "release")")
        let service = RequestService(db: db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: app.config.baseURL)
        var outcome = (expired: 0, escalated: 0)
        rows.append(Bench.Row(name: "2  sweep over \(Bench.grouped(requestCount)) open requests", times: try await Bench.measure(1) {
            outcome = try await service.sweep()
        }, target: 5000))
        rows.append(Bench.Row(name: "   sweep again (nothing due)", times: try await Bench.measure(3) { _ = try await service.sweep() }))
        console.print("the sweep: \(outcome.expired) offers expired, \(outcome.escalated) requests escalated")
        console.print("")
        for line in Bench.table(rows) { console.print(line) }
        console.print("")
        if !signature.keep && bench.temporaryDirectory == nil {
            clock = ContinuousClock.now
            for chunk in stride(from: 0, to: ids.count, by: 1000) {
                let slice = Array(ids[chunk..<min(chunk + 1000, ids.count)])
                try await RequestEvent.query(on: db).filter(\.$request.$id ~~ slice).delete()
                try await RequestOffer.query(on: db).filter(\.$request.$id ~~ slice).delete()
                try await KnowledgeRequest.query(on: db).filter(\.$id ~~ slice).delete()
            }
            try await profile.delete(on: db)
            console.print("cleanup: the generated requests deleted in \(Bench.ms(ContinuousClock.now - clock)) (--keep keeps them)")
        }
        let missed = rows.filter { $0.missed }
        console.print(missed.isEmpty ? "targets: all met" : "targets missed: " + missed.map { $0.name.trimmingCharacters(in: .whitespaces) }.joined(separator: "; "))
    }
}
