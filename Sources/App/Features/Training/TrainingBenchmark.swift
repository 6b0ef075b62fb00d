import Fluent
import FluentSQL
import Vapor

/// `interba bench-training [--completions 200000]`: the trained-academics list over N completions (first page,
/// filtered, a later page, with the totals and the counts per institution and country), and a certificate PDF.
struct BenchTrainingCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "completions", help: "Completions to generate (default 200000)") var completions: Int?
        @Option(name: "runs", help: "Timed runs per measurement (default 30)") var runs: Int?
        @Flag(name: "keep", help: "Keep the generated data") var keep: Bool
    }

    var help: String { "Benchmarks the trained-academics list and certificate PDFs (a scratch database only)." }

    typealias Bench = BenchNeedsAnalysisCommand

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let console = context.console
        let total = max(1000, signature.completions ?? 200_000)
        let runs = max(1, signature.runs ?? 30)
        let bench = try await BenchDatabase.prepare(app, name: "bench-training")
        defer { bench.cleanUp() }
        let db = bench.db
        console.print("Interba training benchmark — \(bench.label)")
        try await tuneSQLite(app)
        try await app.autoMigrate()
        let hasDemo = try await User.query(on: db).filter(\.$email == "admin@\(DemoSeeder.domain)").first() != nil
        if !hasDemo, try await User.query(on: db).count() > 0 {
            throw ConfigError("This database holds accounts but not the demo data set: bench-training only runs on a scratch database.")
        }
        if !hasDemo { _ = try await DemoSeeder.seed(app, on: db, withCampaigns: false, withRecords: false, withCoordination: false, withTraining: false) }
        var clock = ContinuousClock.now
        var random = SplitMix(seed: 17)
        let institutions = try await Institution.query(on: db).all()
        guard let organiser = try await User.query(on: db).first() else { return }
        let perPerson = 5
        let peopleCount = total / perPerson
        let eventCount = max(50, total / 100)
        let kinds = TrainingEvent.Kind.allCases
        let now = Date()
        // Events: spread over institutions, kinds, areas and four years.
        var events: [TrainingEvent] = []
        for index in 0..<eventCount {
            let event = TrainingEvent()
            event.id = UUID()
            event.kind = kinds[index % kinds.count]
            event.status = .scheduled
            event.title = "Benchmark training \(index)"
            event.description = ""
            event.$institution.id = institutions[index % institutions.count].id!
            event.organiserID = try organiser.requireID()
            event.areas = ["A\(1 + index % 13)", "A\(1 + (index * 7) % 13)"]
            event.language = "en"; event.timeZone = "Europe/Belgrade"; event.capacity = 500; event.requiresApproval = false
            event.hours = Double(2 + index % 6); event.minAttendance = 0.75; event.requiresEvaluation = true
            event.isRefresher = index % 20 == 0; event.sequence = 0
            events.append(event)
        }
        try await db.transaction { tx in
            for slice in stride(from: 0, to: events.count, by: 500) { try await Array(events[slice..<min(slice + 500, events.count)]).create(on: tx) }
        }
        // People: academics of the institutions, with the same (unusable) password hash.
        var people: [User] = []
        for index in 0..<peopleCount {
            let institution = institutions[Int(random.next() % UInt64(institutions.count))]
            let user = User(id: UUID(), email: "bench\(index)@bench.interba.test", name: "Academic \(index)", passwordHash: "!",
                            status: .active, institutionID: institution.id)
            people.append(user)
        }
        try await db.transaction { tx in
            for slice in stride(from: 0, to: people.count, by: 1000) { try await Array(people[slice..<min(slice + 1000, people.count)]).create(on: tx) }
        }
        let countries = Dictionary(uniqueKeysWithValues: institutions.map { ($0.id!, $0.countryCode) })
        // Completions with certificates: each person completes `perPerson` different events over four years.
        var completions: [TrainingCompletion] = []
        var certificates: [Certificate] = []
        func flush(_ tx: any Database) async throws {
            try await completions.create(on: tx)
            try await certificates.create(on: tx)
            completions.removeAll(keepingCapacity: true)
            certificates.removeAll(keepingCapacity: true)
        }
        var summary: [TrainedPerson] = []
        try await db.transaction { tx in
            for (personIndex, person) in people.enumerated() {
                var seen: Set<String> = []
                let row = TrainedPerson()
                row.userID = person.id!
                row.institutionKey = person.$institution.id?.uuidString ?? ""
                row.countryCode = countries[person.$institution.id!] ?? ""
                row.completions = perPerson
                row.retrained = 0
                summary.append(row)
                for step in 0..<perPerson {
                    let event = events[(personIndex * 31 + step * 997) % events.count]
                    let completion = TrainingCompletion()
                    completion.id = UUID()
                    completion.$event.id = event.id!
                    completion.$user.id = person.id!
                    completion.institutionID = person.$institution.id
                    completion.countryCode = countries[person.$institution.id!] ?? ""
                    completion.eventKind = event.kind.rawValue
                    completion.areas = " " + event.areas.joined(separator: " ") + " "
                    completion.year = 2023 + (personIndex + step) % 4
                    completion.hours = event.hours
                    completion.retrained = event.isRefresher || event.areas.contains { seen.contains($0) }
                    if completion.retrained { row.retrained += 1 }
                    seen.formUnion(event.areas)
                    completion.source = "attendance"
                    completion.completedAt = now.addingTimeInterval(-Double(personIndex * perPerson + step) * 60)
                    completions.append(completion)
                    let certificate = Certificate()
                    certificate.$completion.id = completion.id!
                    certificate.code = CertificateCode.make()
                    certificate.holderName = person.name; certificate.holderEmail = person.email
                    certificate.eventTitle = event.title; certificate.eventKind = event.kind.rawValue
                    certificate.firstDay = completion.completedAt; certificate.lastDay = completion.completedAt
                    certificate.hours = event.hours; certificate.$issuer.id = event.$institution.id
                    certificate.badgeSalt = "bench"; certificate.issuedAt = completion.completedAt
                    certificates.append(certificate)
                    if completions.count == 500 { try await flush(tx) }
                }
            }
            if !completions.isEmpty { try await flush(tx) }
            // What TrainingService.complete keeps for each completion, here in one go.
            for slice in stride(from: 0, to: summary.count, by: 1000) { try await Array(summary[slice..<min(slice + 1000, summary.count)]).create(on: tx) }
        }
        if bench.isPostgres {
            for table in ["training_completions", "certificates", "users", "training_events", "trained_people"] { try await bench.sql.raw("ANALYZE \(unsafeRaw: table)").run() }
        } else {
            try await bench.sql.raw("ANALYZE").run()
        }
        console.print("data: \(Bench.grouped(total)) completions with certificates of \(Bench.grouped(peopleCount)) academics at \(Bench.grouped(eventCount)) events")
        console.print("setup (not measured): \(Bench.ms(ContinuousClock.now - clock))")
        console.print("build: \(Bench.isDebugBuild ? "debug" : "release")")

        let list = TrainedAcademics(db: db)
        var rows: [Bench.Row] = []
        var shown = 0
        rows.append(Bench.Row(name: "1  list, first page of 50, with totals and counts", times: try await Bench.measure(runs) {
            shown = try await list.page(TrainedAcademicsFilter(), limit: 50, offset: 0).rows.count
        }, target: 50, onP95: true))
        let filtered = TrainedAcademicsFilter(country: "AL", area: "A4", year: 2025)
        var filteredTotal = 0
        rows.append(Bench.Row(name: "2  filtered (country, area, year), first page", times: try await Bench.measure(runs) {
            filteredTotal = try await list.page(filtered, limit: 50, offset: 0).total
        }, target: 50, onP95: true))
        let institution = institutions.first { $0.slug == "tirana" }?.id
        rows.append(Bench.Row(name: "3  institution + kind, page 20", times: try await Bench.measure(runs) {
            _ = try await list.page(TrainedAcademicsFilter(institutionID: institution, kind: "pilot"), limit: 50, offset: 950)
        }, target: 50, onP95: true))
        rows.append(Bench.Row(name: "4  re-trained only, first page", times: try await Bench.measure(runs) {
            _ = try await list.page(TrainedAcademicsFilter(retrained: true), limit: 50, offset: 0)
        }, target: 50, onP95: true))
        let text = CertificateText(heading: "Certificate of completion", holder: "Ана Петровска", statement: "This certifies that",
                                   event: "Pilot: internationalising learning outcomes", details: ["Pilot training · 10 Dec 2026", "4 hours"],
                                   issuer: "Ss. Cyril and Methodius University in Skopje", status: nil, verifyLine: "Verify this certificate with the code",
                                   verifyURL: "https://interba.example/verify/\(CertificateCode.make())", code: CertificateCode.make())
        var size = 0
        rows.append(Bench.Row(name: "5  certificate PDF (cairo, with the QR code)", times: try await Bench.measure(runs) {
            size = CertificatePDF.render(text).count
        }, target: 100, onP95: true))
        console.print("first page: \(shown) rows; filtered total: \(Bench.grouped(filteredTotal)); PDF: \(Bench.grouped(size)) bytes")
        console.print("")
        for line in Bench.table(rows) { console.print(line) }
        console.print("")
        if !signature.keep && bench.temporaryDirectory == nil {
            clock = ContinuousClock.now
            let eventIDs = events.compactMap(\.id)
            for chunk in stride(from: 0, to: eventIDs.count, by: 200) {
                let slice = Array(eventIDs[chunk..<min(chunk + 200, eventIDs.count)])
                let completionIDs = try await TrainingCompletion.query(on: db).filter(\.$event.$id ~~ slice).all().compactMap(\.id)
                try await Certificate.query(on: db).filter(\.$completion.$id ~~ completionIDs).delete()
                try await TrainingCompletion.query(on: db).filter(\.$event.$id ~~ slice).delete()
                try await TrainingEvent.query(on: db).filter(\.$id ~~ slice).delete()
            }
            for chunk in stride(from: 0, to: people.count, by: 1000) {
                try await TrainedPerson.query(on: db).filter(\.$userID ~~ people[chunk..<min(chunk + 1000, people.count)].compactMap(\.id)).delete()
            try await User.query(on: db).filter(\.$id ~~ people[chunk..<min(chunk + 1000, people.count)].compactMap(\.id)).delete()
            }
            console.print("cleanup: \(Bench.ms(ContinuousClock.now - clock)) (--keep keeps the data)")
        }
        let missed = rows.filter { $0.missed }
        console.print(missed.isEmpty ? "targets: all met" : "targets missed: " + missed.map { $0.name.trimmingCharacters(in: .whitespaces) }.joined(separator: "; "))
    }
}
