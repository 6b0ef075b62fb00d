import Fluent
import FluentSQL
import Vapor

/// `interba bench-elearning [--sections 20] [--items 200]`: exporting a course as a Common Cartridge (read from the
/// database, Markdown rendered, files packaged, ZIP written), the issue's target being under 500 ms for 20 sections
/// and 200 items.
struct BenchElearningCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "sections", help: "Sections (default 20)") var sections: Int?
        @Option(name: "items", help: "Items in all (default 200)") var items: Int?
        @Option(name: "runs", help: "Timed exports (default 20)") var runs: Int?
        @Option(name: "enrolments", help: "Participants to enrol on the fake Moodle (default 500)") var enrolments: Int?
        @Option(name: "moodle-port", help: "Loopback port of the fake Moodle server (default 18081)") var moodlePort: Int?
    }

    var help: String { "Benchmarks the Common Cartridge export (a scratch database only)." }

    typealias Bench = BenchNeedsAnalysisCommand

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let console = context.console
        let sectionCount = max(1, signature.sections ?? 20)
        let itemCount = max(sectionCount, signature.items ?? 200)
        let runs = max(1, signature.runs ?? 20)
        let bench = try await BenchDatabase.prepare(app, name: "bench-elearning")
        defer { bench.cleanUp() }
        let db = bench.db
        console.print("Interba e-learning benchmark — \(bench.label)")
        try await tuneSQLite(app)
        try await app.autoMigrate()
        let hasDemo = try await User.query(on: db).filter(\.$email == "admin@\(DemoSeeder.domain)").first() != nil
        if !hasDemo, try await User.query(on: db).count() > 0 {
            throw ConfigError("This database holds accounts but not the demo data set: bench-elearning only runs on a scratch database.")
        }
        if !hasDemo { _ = try await DemoSeeder.seed(app, on: db, withCampaigns: false, withRecords: false, withCoordination: false, withTraining: false) }
        guard let coordinator = try await User.query(on: db).filter(\.$email == "coordinator.tirana@\(DemoSeeder.domain)").first(),
              let tirana = coordinator.$institution.id else { throw ConfigError("demo people missing") }
        let actor = try await Actor.load(for: coordinator, on: db)
        let service = CourseService(db: db, storage: app.fileStorage, baseURL: app.config.baseURL)
        let course = try await service.create(from: nil, title: "Benchmark course", language: "sq", institutionID: tirana, by: actor,
                                              sectionTitles: [:], materialsTitle: "")
        let paragraph = "Ndërkombëtarizimi në shtëpi **lidh** studentët me perspektiva globale; [burimi](https://example.org). "
        let image = Data((0..<40_000).map { UInt8($0 % 251) })
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + image
        var attachments = 0
        for sectionIndex in 0..<sectionCount {
            try await service.addSection(course, title: "Seksioni \(sectionIndex + 1)", summary: "Përmbledhje e seksionit \(sectionIndex + 1).", by: actor)
        }
        let sections = try await service.sections(course)
        for index in 0..<itemCount {
            let section = sections[index % sectionCount]
            switch index % 4 {
            case 0, 1:
                let page = try await service.addItem(course, section: section, .init(kind: "page", title: "Faqja \(index)",
                    body: "## Hyrje\n\n" + String(repeating: paragraph, count: 20) + "\n\n- pika një\n- pika dy\n"), by: actor)
                if index % 10 == 0 {
                    try await service.attach(course, item: page, filename: "figura-\(index).png", data: png, by: actor)
                    attachments += 1
                }
            case 2:
                _ = try await service.addItem(course, section: section, .init(kind: "url", title: "Lidhja \(index)", url: "https://example.org/\(index)"), by: actor)
            default:
                _ = try await service.addItem(course, section: section, .init(kind: "discussion", title: "Diskutim \(index)", body: paragraph), by: actor)
            }
        }
        console.print("data: \(sectionCount) sections, \(itemCount) items (\(attachments) pages with a 40 KB image)")
        console.print("build: \(Bench.isDebugBuild ? "debug" : "release")")
        var size = 0
        var rows = [Bench.Row(name: "1  export the course as .imscc", times: try await Bench.measure(runs) {
            size = try CommonCartridge.archive(try await service.cartridge(course, catalog: app.catalog)).count
        }, target: 500, onP95: true)]
        console.print("cartridge: \(Bench.grouped(size)) bytes")

        // (2) Sync with N participants against the fake Moodle server over HTTP on loopback.
        let enrolments = max(1, signature.enrolments ?? 500)
        let port = signature.moodlePort ?? 18081
        let fake = FakeMoodle(siteURL: "http://127.0.0.1:\(port)", token: "bench-token-123")
        let server = try await fake.serve(port: port)
        do {
            let hash = coordinator.passwordHash
            var people: [User] = []
            for index in 0..<enrolments {
                people.append(User(id: UUID(), email: "learner\(index)@bench.interba.test", name: "Learner Nr\(index)", passwordHash: hash,
                                   status: .active, institutionID: tirana))
            }
            try await db.transaction { tx in
                for slice in stride(from: 0, to: people.count, by: 500) { try await Array(people[slice..<min(slice + 500, people.count)]).create(on: tx) }
            }
            let training = TrainingService(db: db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: app.config.baseURL)
            var input = EventInput()
            input.kind = "pilot"; input.title = "Benchmark e-learning cohort"; input.institutionID = tirana.uuidString; input.areas = ["A4"]
            input.capacity = String(enrolments + 10); input.hours = "10"; input.timeZone = "Europe/Tirane"
            let zone = TimeZone(identifier: "Europe/Tirane")!
            input.sessions = [SessionInput(start: EventTime.input(Date().addingTimeInterval(30 * 86400), in: zone),
                                           end: EventTime.input(Date().addingTimeInterval(30 * 86400 + 3600), in: zone), onlineURL: "https://moodle.example")]
            let event = try await training.createEvent(input, by: actor)
            try await db.transaction { tx in
                var rows: [EventRegistration] = []
                for (index, person) in people.enumerated() {
                    let row = EventRegistration()
                    row.$event.id = try event.requireID(); row.$user.id = person.id!; row.status = .registered; row.position = index + 1
                    rows.append(row)
                }
                for slice in stride(from: 0, to: rows.count, by: 500) { try await Array(rows[slice..<min(slice + 500, rows.count)]).create(on: tx) }
            }
            let sync = MoodleSync(db: db, transport: HTTPMoodleTransport(client: app.client), secret: app.config.secret)
            _ = try await sync.save(institutionID: tirana, siteURL: fake.siteURL, token: fake.token, categoryID: "1", by: actor)
            var report = MoodleSync.Report()
            rows.append(Bench.Row(name: "2  sync \(Bench.grouped(enrolments)) enrolments (fake Moodle, HTTP)", times: try await Bench.measure(1) {
                report = try await sync.publish(course, events: [event], html: "<p>Benchmark</p>", sections: sectionCount)
            }, target: 10_000))
            rows.append(Bench.Row(name: "   sync again (nothing to do)", times: try await Bench.measure(3) {
                _ = try await sync.publish(course, events: [event], html: "<p>Benchmark</p>", sections: sectionCount)
            }))
            console.print("sync: \(report.usersCreated) users created, \(report.enrolled) enrolments; fake Moodle received \(fake.calls.count) calls "
                          + "(\(fake.calls.filter { $0.0 == "core_user_create_users" }.count) user batches, \(fake.calls.filter { $0.0 == "enrol_manual_enrol_users" }.count) enrolment calls)")
        } catch {
            await server.server.shutdown()
            try await server.asyncShutdown()
            throw error
        }
        await server.server.shutdown()
        try await server.asyncShutdown()
        console.print("")
        for line in Bench.table(rows) { console.print(line) }
        console.print("")
        let missed = rows.filter { $0.missed }
        console.print(missed.isEmpty ? "targets: all met" : "targets missed: " + missed.map { $0.name.trimmingCharacters(in: .whitespaces) }.joined(separator: "; "))
    }
}
