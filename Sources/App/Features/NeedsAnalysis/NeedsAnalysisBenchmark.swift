import Fluent
import FluentSQL
import FluentSQLiteDriver
import Leaf
import NIOCore
import Vapor

/// `interba bench-needs-analysis [--responses 20000] [--institutions 7]`: the speed benchmark of a regional campaign
/// (benchmarks/README.md). Loads the demo organisations, creates a regional campaign over the Western Balkan demo
/// institutions, bulk-inserts N responses × 60 importance/performance answers (setup, timed apart), then times
/// with the wall clock, over several runs: the aggregation SQL alone, the analysis end to end (SQL + method + storing
/// the results), and the stored results page served through the real HTTP stack to the signed-in regional coordinator.
///
/// The database is the one the app is configured with (DATABASE_URL, or the SQLite file in INTERBA_DATA_DIR); with
/// neither set it uses a fresh SQLite file in a temporary directory, never ./data. It refuses a production environment
/// and a database that holds accounts but not the demo data set. The benchmark's rows are deleted at the end (--keep
/// keeps them).
struct BenchNeedsAnalysisCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "responses", help: "Number of responses (default 20000)") var responses: Int?
        @Option(name: "institutions", help: "Number of Western Balkan demo institutions answering (default 7)") var institutions: Int?
        @Option(name: "items", help: "Importance/performance items per response (default 60)") var items: Int?
        @Option(name: "runs", help: "Timed runs of the aggregation and of the analysis (default 5)") var runs: Int?
        @Option(name: "page-runs", help: "Timed requests of the results page (default 20)") var pageRuns: Int?
        @Flag(name: "keep", help: "Keep the benchmark campaign and its answers in the database") var keep: Bool
    }

    var help: String { "Benchmarks the analysis of a large regional campaign and its results page (a scratch database only)." }

    static let westernBalkans = ["tirana", "prishtina", "tuzla", "mostar", "montenegro", "skopje", "novisad", "uet"]
    static let groups: [(String, Double)] = [("management", 0.04), ("academic_staff", 0.30), ("administrative_staff", 0.16), ("students", 0.50)]

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let console = context.console
        let responseCount = max(1, signature.responses ?? 20_000)
        let itemCount = max(1, signature.items ?? 60)
        let runs = max(1, signature.runs ?? 5)
        let pageRuns = max(1, signature.pageRuns ?? 20)

        let bench = try await BenchDatabase.prepare(app, name: "bench-needs-analysis")
        defer { bench.cleanUp() }
        let (db, sql, isPostgres, databaseLabel, temporaryDirectory) = (bench.db, bench.sql, bench.isPostgres, bench.label, bench.temporaryDirectory)
        console.print("Interba needs-analysis benchmark — \(databaseLabel)")

        // Setup: migrate, demo organisations and people (no demo campaigns), a 60-item instrument, the campaign.
        var clock = ContinuousClock.now
        try await app.autoMigrate()
        let migrateTime = ContinuousClock.now - clock
        clock = ContinuousClock.now
        let hasDemo = try await User.query(on: db).filter(\.$email == "admin@\(DemoSeeder.domain)").first() != nil
        if !hasDemo, try await User.query(on: db).count() > 0 {
            throw ConfigError("This database holds accounts but not the demo data set: bench-needs-analysis only runs on a scratch database.")
        }
        if !hasDemo { _ = try await DemoSeeder.seed(app, on: db, withCampaigns: false, withRecords: false, withCoordination: false, withTraining: false) }
        let seedTime = ContinuousClock.now - clock

        guard let coordinatorUser = try await User.query(on: db).filter(\.$email == "regional@\(DemoSeeder.domain)").first() else {
            throw ConfigError("The demo regional coordinator is missing.")
        }
        let coordinator = try await Actor.load(for: coordinatorUser, on: db)
        let service = CampaignService(db: db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: app.config.baseURL, audit: .system)
        let bySlug = Dictionary(uniqueKeysWithValues: try await Institution.query(on: db).all().map { ($0.slug, $0) })
        let institutions = Self.westernBalkans.compactMap { bySlug[$0] }.prefix(max(1, signature.institutions ?? 7))
        guard !institutions.isEmpty else { throw ConfigError("No Western Balkan demo institutions found.") }
        let instrument = try await Self.benchInstrument(items: itemCount, on: db)
        let ipItems = instrument.definition.sections.flatMap { section in
            section.items.filter { $0.kind == .importancePerformance }.map { (item: $0.code, area: section.area ?? "") }
        }
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        let campaign = try await service.create(.init(
            title: "Benchmark: Western Balkans regional IaH needs analysis (\(responseCount) responses)", instrumentID: instrument.id,
            scope: Campaign.Scope.region.rawValue, scopeID: "WB", targetInstitutions: institutions.compactMap(\.id),
            groups: Self.groups.map { $0.0 }, opensOn: "\(year)-03-01", closesOn: "\(year)-04-15", minimumGroupSize: "5"), by: coordinator)
        try await service.open(campaign, by: coordinator)
        let campaignID = try campaign.requireID()

        // Setup: bulk insert (chunks of 2,000 rows in one statement, one transaction per 1,000 responses).
        clock = ContinuousClock.now
        let (answerCount, copiesCohort) = try await Self.insertAnswers(campaignID: campaignID, institutions: institutions.compactMap(\.id),
                                                       responses: responseCount, items: ipItems, year: year, on: db)
        let insertTime = ContinuousClock.now - clock
        clock = ContinuousClock.now
        if isPostgres {
            // What autovacuum does shortly after a bulk load; without statistics the planner guesses.
            try await sql.raw("ANALYZE survey_responses").run()
            try await sql.raw("ANALYZE survey_answers").run()
        }
        let statisticsTime = ContinuousClock.now - clock
        try await service.close(campaign, by: coordinator)

        let institutionCount = institutions.count
        console.print("data: \(Self.grouped(responseCount)) responses × \(ipItems.count) items = \(Self.grouped(answerCount)) answers, "
                      + "\(institutionCount) institutions (\(institutions.map(\.shortName).joined(separator: ", "))), \(Self.groups.count) groups"
                      + (copiesCohort ? "; answers carry their response's group and institution" : ""))
        console.print("setup (not measured): migrate \(Self.ms(migrateTime)), demo data \(Self.ms(seedTime)), "
                      + "insert \(Self.ms(insertTime)) (\(Self.grouped(Int(Double(answerCount) / max(0.001, Self.seconds(insertTime))))) answers/s)"
                      + (isPostgres ? ", ANALYZE \(Self.ms(statisticsTime))" : ""))
        console.print("build: \(Self.isDebugBuild ? "debug" : "release"), Leaf cache: \(app.leaf.cache.isEnabled ? "on" : "off"), "
                      + "runs: \(runs) (analysis), \(pageRuns) (page)")

        var rows: [Row] = []
        let feasibility: [String: Double] = ["A4": 0.75, "A7": 0.75, "A12": 0.25]
        let strategic: Set<String> = ["A3", "A4"]

        // The SQL that aggregate runs, captured from the driver's query log (for its plan, printed at the end).
        let capture = QueryCapture()
        if let logged = app.databases.database(logger: Logger(label: "bench.sql") { _ in capture }, on: app.eventLoopGroup.any()) {
            _ = try await CampaignService(db: logged, mailer: OutboxMailer(), catalog: app.catalog, baseURL: app.config.baseURL,
                                          audit: .system).aggregate(campaign)
        }

        // (1) The aggregation query alone (SQL GROUP BY + decoding its rows).
        var cells = 0
        rows.append(Row(name: "1  aggregate: SQL GROUP BY + row decode", times: try await Self.measure(runs) {
            cells = try await service.aggregate(campaign).values.reduce(0) { $0 + $1.count }
        }))
        let byInstitution = try await service.aggregate(campaign)
        let areas = try await Area.query(on: db).sort(\.$position).all().map(\.code)

        // The method alone, in memory (mirrors CampaignService.analyse between the SQL and the save).
        rows.append(Row(name: "   method only (PriorityAnalysis, in memory)", times: try await Self.measure(runs) {
            let settings = AnalysisSettings(minimumGroupSize: campaign.minimumGroupSize, feasibility: feasibility, strategic: strategic)
            let report = PriorityAnalysis.analyse(CampaignService.pooled(byInstitution), settings: settings, expectedAreas: areas)
            var perInstitution = settings
            perInstitution.campaignMean = report.mu
            var gaps: [PriorityAnalysis.InstitutionGaps] = []
            for institution in institutions {
                guard let id = institution.id, let stats = byInstitution[id] else { continue }
                let own = PriorityAnalysis.analyse(stats, settings: perInstitution, expectedAreas: areas)
                gaps.append(PriorityAnalysis.InstitutionGaps(id: id.uuidString, countryCode: institution.countryCode, report: own))
            }
            _ = PriorityAnalysis.rollUp(gaps)
        }))

        // (2) The analysis end to end: aggregation SQL + responses count + the method + storing the report.
        rows.append(Row(name: "2  analyse end to end (CampaignService.analyse)", times: try await Self.measure(runs) {
            try await service.analyse(campaign, feasibility: feasibility, strategic: strategic, by: coordinator)
        }, target: 2000))

        // Storing alone: JSON encoding of the report + UPDATE of the campaign row.
        rows.append(Row(name: "   store results only (JSON encode + UPDATE)", times: try await Self.measure(runs) {
            campaign.results = campaign.results
            try await campaign.save(on: db)
        }))
        let storedBytes = try await Self.storedResultsBytes(campaignID, on: sql)

        // Loading alone: the campaign row + JSON decoding of the stored report (what every view of the page does first).
        rows.append(Row(name: "   load campaign (row + JSON decode of results)", times: try await Self.measure(pageRuns) {
            guard try await Campaign.find(campaignID, on: db)?.results != nil else { throw Abort(.internalServerError) }
        }))

        // (3) Through the real HTTP stack: a server on 127.0.0.1 (ephemeral port), signed in as the regional coordinator.
        try await app.server.start(address: .hostname("127.0.0.1", port: 0))
        let client = HTTPClient(eventLoopGroupProvider: .shared(app.eventLoopGroup),
                                configuration: .init(redirectConfiguration: .disallow))
        var pageBytes = 0
        do {
            guard let port = app.http.server.shared.localAddress?.port else { throw ConfigError("The server did not report its port.") }
            let web = BenchBrowser(client: client, base: "http://127.0.0.1:\(port)")
            try await web.signIn("regional@\(DemoSeeder.domain)", DemoSeeder.password)
            let path = "/campaigns/\(campaignID.uuidString)/results"
            let check = try await web.get(path)
            guard check.status == .ok, check.body.contains("Benchmark: Western Balkans") else {
                throw ConfigError("GET \(path) answered \(check.status.code), not the results page.")
            }
            let csrf = try BenchBrowser.csrfToken(in: check.body)
            var form = [("_csrf", csrf)]
            for (area, value) in feasibility { form.append(("feasibility:\(area)", String(value))) }
            for area in strategic { form.append(("strategic", area)) }
            rows.append(Row(name: "2b analyse via HTTP POST …/analyse (+ 303)", times: try await Self.measure(runs) {
                let response = try await web.post("/campaigns/\(campaignID.uuidString)/analyse", form)
                guard response.status == .seeOther, response.location?.hasSuffix("/results") == true else {
                    throw ConfigError("POST analyse answered \(response.status.code) \(response.location ?? "").")
                }
            }, target: 2000))
            rows.append(Row(name: "3  results page: GET …/results over HTTP", times: try await Self.measure(pageRuns) {
                let response = try await web.get(path)
                guard response.status == .ok else { throw ConfigError("GET \(path) answered \(response.status.code).") }
                pageBytes = response.body.utf8.count
            }, target: 100))
            // For comparison: a light page with the same layout, session and sign-in work, no results.
            rows.append(Row(name: "   baseline: GET /areas over HTTP (same layout)", times: try await Self.measure(pageRuns) {
                let response = try await web.get("/areas")
                guard response.status == .ok else { throw ConfigError("GET /areas answered \(response.status.code).") }
            }))
        } catch {
            try? await client.shutdown().get()
            await app.server.shutdown()
            throw error
        }
        try? await client.shutdown().get()
        await app.server.shutdown()

        console.print("stored results: \(Self.grouped(storedBytes)) bytes of JSON, \(cells) aggregated cells "
                      + "(item × area × group × institution); page: \(Self.grouped(pageBytes)) bytes of HTML")
        console.print("")
        for line in Self.table(rows) { console.print(line) }
        console.print("")
        if let query = capture.last {
            console.print("plan of the aggregation query (\(isPostgres ? "EXPLAIN ANALYZE" : "EXPLAIN QUERY PLAN")):")
            console.print("  " + query.sql.replacingOccurrences(of: "\n", with: " "))
            for line in try await Self.explain(query, campaignID: campaignID, on: sql, postgres: isPostgres) { console.print("    " + line) }
        } else {
            console.print("plan of the aggregation query: not shown (its SQL was not captured from the driver's log)")
        }

        if !signature.keep && temporaryDirectory == nil {
            clock = ContinuousClock.now
            try await db.transaction { db in
                try await SurveyAnswer.query(on: db).filter(\.$campaignID == campaignID).delete()
                try await SurveyResponse.query(on: db).filter(\.$campaign.$id == campaignID).delete()
                try await Campaign.query(on: db).filter(\.$id == campaignID).delete()
                try await Instrument.query(on: db).filter(\.$id == instrument.requireID()).delete()
            }
            console.print("cleanup: the benchmark campaign and its rows deleted in \(Self.ms(ContinuousClock.now - clock)) (--keep keeps them)")
        }
        let missed = rows.filter { $0.missed }
        console.print(missed.isEmpty ? "targets: all met" : "targets missed: " + missed.map { $0.name.trimmingCharacters(in: .whitespaces) }.joined(separator: "; "))
    }

    // MARK: data

    /// A copy of the shipped instrument in which every group sees `items` importance/performance items (items are
    /// repeated with a suffix when the shipped ones are fewer, dropped when they are more).
    static func benchInstrument(items: Int, on db: any Database) async throws -> Instrument {
        guard let shipped = try await Instrument.query(on: db).filter(\.$code == "iah-default").sort(\.$version, .descending).first() else {
            throw ConfigError("The shipped instrument iah-default is missing.")
        }
        var definition = shipped.definition
        definition.code = "bench-\(items)-\(UUID().uuidString.prefix(8).lowercased())"
        definition.version = 1
        var sections = definition.sections.filter { $0.area != nil }.map { section -> InstrumentDefinition.Section in
            var copy = section
            copy.items = section.items.filter { $0.kind == .importancePerformance }.map { item in
                var open = item
                open.groups = nil
                return open
            }
            return copy
        }.filter { !$0.items.isEmpty }
        var slots = sections.indices.flatMap { s in sections[s].items.indices.map { (s, $0) } }
        if slots.count > items {
            let keep = Set(slots.prefix(items).map { "\($0.0):\($0.1)" })
            for s in sections.indices {
                sections[s].items = sections[s].items.indices.filter { keep.contains("\(s):\($0)") }.map { sections[s].items[$0] }
            }
        } else {
            var copy = 0
            while slots.count < items {
                let (s, i) = slots[copy % slots.count]
                var extra = sections[s].items[i]
                extra.code += "-b\(copy / slots.count + 1)"
                sections[s].items.append(extra)
                slots.append((s, sections[s].items.count - 1))
                copy += 1
            }
        }
        definition.sections = sections
        let instrument = Instrument(definition: definition, institutionID: nil, previousVersionID: nil)
        try await instrument.create(on: db)
        return instrument
    }

    /// Inserts the responses and answers with plausible random scores: each institution has its own pattern of strong
    /// and weak areas, groups disagree a little, items within an area differ a little, about 2% "don't know"
    /// performances. Returns the number of answers, and whether the answers table carries each response's group and institution.
    static func insertAnswers(campaignID: UUID, institutions: [UUID], responses count: Int,
                              items: [(item: String, area: String)], year: Int, on db: any Database) async throws -> (answers: Int, copiesCohort: Bool) {
        var random = DemoCampaigns.Random(state: 20_261_129)
        guard let sql = db as? any SQLDatabase else { throw Abort(.internalServerError) }
        // Newer schemas copy the response's group and institution onto each answer (for the analysis index).
        let answerTable = try await columns(of: "survey_answers", on: sql)
        let copiesCohort = answerTable.contains("grp") && answerTable.contains("institution_id")
        var answerColumns = ["id", "response_id", "campaign_id", "item_code", "area_code", "importance", "performance"]
        if copiesCohort { answerColumns += ["grp", "institution_id"] }
        // Larger and smaller universities: fixed weights per position.
        let weights = [1.6, 1.0, 1.2, 0.8, 0.7, 1.1, 1.3, 0.9].prefix(institutions.count)
        let totalWeight = weights.reduce(0, +)
        let areaNumbers = items.map { Int($0.area.dropFirst()) ?? 0 }
        let itemOffsets = items.indices.map { Double($0 % 5) * 0.1 - 0.2 }
        var answers = 0
        let responsesPerTransaction = 1_000
        let rowsPerStatement = 2_000
        for start in stride(from: 0, to: count, by: responsesPerTransaction) {
            var responseRows: [[any SQLExpression]] = []
            var answerRows: [[any SQLExpression]] = []
            let campaign = SQLBind(campaignID)
            for _ in start..<min(start + responsesPerTransaction, count) {
                var pick = random.next() * totalWeight, profile = 0
                while profile < weights.count - 1, pick >= weights[profile] { pick -= weights[profile]; profile += 1 }
                var share = random.next(), group = groups[groups.count - 1].0
                for (name, part) in groups { if share < part { group = name; break }; share -= part }
                let responseID = UUID()
                let response = SQLBind(responseID)
                responseRows.append([response, campaign, SQLBind(institutions[profile]), SQLBind(group),
                                     SQLBind("\(year)-04-\(String(format: "%02d", 1 + Int(random.next() * 14)))")])
                let cohortGroup = SQLBind(group), cohortInstitution = SQLBind(institutions[profile])
                let groupImportance = group == "students" ? -0.2 : 0.1
                let groupPerformance = group == "management" ? 0.4 : 0
                for (index, item) in items.enumerated() {
                    let area = areaNumbers[index], p = profile + 3
                    let importance = 3.4 + Double((area * 7 + p * 3) % 5) * 0.3 + groupImportance + itemOffsets[index]
                    let performance = 1.9 + Double((area * 5 + p * 11) % 6) * 0.35 + groupPerformance - itemOffsets[index]
                    let i = random.score(around: importance)
                    let dontKnow = random.next() < 0.02
                    let perf = random.score(around: performance)
                    var row: [any SQLExpression] = [SQLBind(UUID()), response, campaign, SQLBind(item.item), SQLBind(item.area), SQLBind(i),
                                                    dontKnow ? SQLLiteral.null as any SQLExpression : SQLBind(perf)]
                    if copiesCohort { row += [cohortGroup, cohortInstitution] }
                    answerRows.append(row)
                }
            }
            answers += answerRows.count
            let batches = (responseRows, answerRows), answerColumns = answerColumns
            try await db.transaction { db in
                guard let sql = db as? any SQLDatabase else { throw Abort(.internalServerError) }
                for chunk in stride(from: 0, to: batches.0.count, by: rowsPerStatement) {
                    var insert = sql.insert(into: "survey_responses").columns("id", "campaign_id", "institution_id", "group", "submitted_on")
                    for row in batches.0[chunk..<min(chunk + rowsPerStatement, batches.0.count)] { insert = insert.values(row) }
                    try await insert.run()
                }
                for chunk in stride(from: 0, to: batches.1.count, by: rowsPerStatement) {
                    var insert = sql.insert(into: "survey_answers").columns(answerColumns)
                    for row in batches.1[chunk..<min(chunk + rowsPerStatement, batches.1.count)] { insert = insert.values(row) }
                    try await insert.run()
                }
            }
        }
        return (answers, copiesCohort)
    }

    // MARK: inspection

    static func storedResultsBytes(_ campaignID: UUID, on sql: any SQLDatabase) async throws -> Int {
        let expression = sql.dialect.name == "postgresql" ? "octet_length(results::text)" : "length(CAST(results AS BLOB))"
        let row = try await sql.raw("SELECT \(unsafeRaw: expression) AS size FROM campaigns WHERE id = \(bind: campaignID)").first()
        return try row?.decode(column: "size", as: Int.self) ?? 0
    }

    static func postgresVersion(_ sql: any SQLDatabase) async throws -> String {
        let row = try await sql.raw("SHOW server_version").first()
        return try row?.decode(column: "server_version", as: String.self) ?? "?"
    }

    /// The plan of a captured query whose only bind is the campaign id (placeholder $1 on PostgreSQL, ?1 on SQLite).
    static func explain(_ query: QueryCapture.Query, campaignID: UUID, on sql: any SQLDatabase, postgres: Bool) async throws -> [String] {
        let placeholder = postgres ? "$1" : "?1"
        let parts = query.sql.components(separatedBy: placeholder)
        guard query.binds == 1, parts.count == 2 else { return ["(not shown: the query has \(query.binds) binds)"] }
        let explain = SQLQueryString("\(unsafeRaw: postgres ? "EXPLAIN (ANALYZE, BUFFERS) " : "EXPLAIN QUERY PLAN ")\(unsafeRaw: parts[0])\(bind: campaignID)\(unsafeRaw: parts[1])")
        return try await sql.raw(explain).all().map { row in
            postgres ? try row.decode(column: "QUERY PLAN", as: String.self) : try row.decode(column: "detail", as: String.self)
        }
    }

    /// The columns of a table (the answers table gained columns over time).
    static func columns(of table: String, on sql: any SQLDatabase) async throws -> Set<String> {
        let query: SQLQueryString = sql.dialect.name == "postgresql"
            ? "SELECT column_name::text AS name FROM information_schema.columns WHERE table_name = \(bind: table)"
            : "SELECT name FROM pragma_table_info(\(bind: table))"
        return Set(try await sql.raw(query).all().map { try $0.decode(column: "name", as: String.self) })
    }

    // MARK: measuring and printing

    struct Row {
        var name: String
        var times: [Duration]
        var target: Double?

        var sorted: [Double] { times.map(BenchNeedsAnalysisCommand.milliseconds).sorted() }
        var median: Double {
            let s = sorted
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        /// The 95th percentile (nearest rank).
        var p95: Double {
            let s = sorted
            return s[max(0, Int((Double(s.count) * 0.95).rounded(.up)) - 1)]
        }
        /// Targets are on the median unless `onP95`.
        var onP95 = false
        var measured: Double { onP95 ? p95 : median }
        var missed: Bool { target.map { measured >= $0 } ?? false }
    }

    static func measure(_ runs: Int, _ body: () async throws -> Void) async throws -> [Duration] {
        var times: [Duration] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            try await body()
            times.append(ContinuousClock.now - start)
        }
        return times
    }

    static func table(_ rows: [Row]) -> [String] {
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + padding : padding + text
        }
        let width = max(46, rows.map(\.name.count).max() ?? 0)
        var lines = [pad("step", width, left: true) + pad("runs", 6) + pad("first", 11) + pad("min", 11) + pad("median", 11)
                     + pad("p95", 11) + pad("max", 11) + "   target"]
        lines.append(String(repeating: "-", count: lines[0].count))
        for row in rows {
            let values = row.sorted
            let target = row.target.map { "\(row.onP95 ? "p95" : "median") < \(format($0)) ms " + (row.missed ? "MISSED" : "ok") } ?? ""
            lines.append(pad(row.name, width, left: true) + pad(String(row.times.count), 6)
                         + pad(format(milliseconds(row.times[0])) + " ms", 11) + pad(format(values.first ?? 0) + " ms", 11)
                         + pad(format(row.median) + " ms", 11) + pad(format(row.p95) + " ms", 11)
                         + pad(format(values.last ?? 0) + " ms", 11) + "   " + target)
        }
        return lines
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func seconds(_ duration: Duration) -> Double { milliseconds(duration) / 1000 }

    static func format(_ ms: Double) -> String {
        ms >= 100 ? String(format: "%.0f", ms) : String(format: "%.1f", ms)
    }

    static func ms(_ duration: Duration) -> String {
        let value = milliseconds(duration)
        return value >= 10_000 ? String(format: "%.1f s", value / 1000) : format(value) + " ms"
    }

    static func grouped(_ number: Int) -> String {
        let digits = Array(String(number))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return out
    }

    static var isDebugBuild: Bool {
        #if DEBUG
        return true
        #else
        return false
        #endif
    }
}

/// A minimal browser over a real HTTP connection: keeps the session cookie, reads the CSRF token, submits forms.
final class BenchBrowser: @unchecked Sendable {
    struct Answer {
        var status: HTTPResponseStatus
        var location: String?
        var body: String
    }

    let client: HTTPClient
    let base: String
    var cookies: [String: String] = [:]

    init(client: HTTPClient, base: String) {
        self.client = client
        self.base = base
    }

    func send(_ method: HTTPMethod, _ path: String, form: [(String, String)]? = nil) async throws -> Answer {
        var headers = HTTPHeaders()
        if !cookies.isEmpty { headers.add(name: .cookie, value: cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ")) }
        var body: HTTPClient.Body?
        if let form {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            let encoded = form.map { key, value in
                "\(key.addingPercentEncoding(withAllowedCharacters: allowed)!)=\(value.addingPercentEncoding(withAllowedCharacters: allowed)!)"
            }.joined(separator: "&")
            headers.add(name: .contentType, value: "application/x-www-form-urlencoded")
            body = .string(encoded)
        }
        let request = try HTTPClient.Request(url: base + path, method: method, headers: headers, body: body)
        let response = try await client.execute(request: request).get()
        for header in response.headers[.setCookie] {
            guard let pair = header.split(separator: ";").first, let eq = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<eq]).trimmingCharacters(in: .whitespaces)
            let value = String(pair[pair.index(after: eq)...])
            if value.isEmpty || header.lowercased().contains("expires=thu, 01 jan 1970") { cookies[name] = nil } else { cookies[name] = value }
        }
        return Answer(status: response.status, location: response.headers.first(name: .location),
                      body: response.body.map { String(buffer: $0) } ?? "")
    }

    func get(_ path: String) async throws -> Answer { try await send(.GET, path) }

    func post(_ path: String, _ form: [(String, String)]) async throws -> Answer { try await send(.POST, path, form: form) }

    static func csrfToken(in html: String) throws -> String {
        guard let range = html.range(of: #"name="_csrf" value="[^"]+""#, options: .regularExpression) else {
            throw ConfigError("No CSRF token on the page.")
        }
        return String(html[range]).replacingOccurrences(of: "name=\"_csrf\" value=\"", with: "").replacingOccurrences(of: "\"", with: "")
    }

    func signIn(_ email: String, _ password: String) async throws {
        let form = try await get("/signin")
        let response = try await post("/signin", [("email", email), ("password", password), ("_csrf", try Self.csrfToken(in: form.body))])
        guard response.status == .seeOther else { throw ConfigError("Sign-in of \(email) answered \(response.status.code).") }
    }
}

/// A log handler that keeps the SQL of the queries the database drivers log ("Executing query", at debug level).
final class QueryCapture: LogHandler, @unchecked Sendable {
    struct Query {
        var sql: String
        var binds: Int
    }

    private let lock = NSLock()
    private var queries: [Query] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    var last: Query? { lock.withLock { queries.last } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard case .string(let sql)? = event.metadata?["sql"] else { return }
        var binds = 0
        if case .array(let values)? = event.metadata?["binds"] { binds = values.count }
        lock.withLock { queries.append(Query(sql: sql, binds: binds)) }
    }
}

/// The database a benchmark runs on: the configured one (DATABASE_URL, or the SQLite file in INTERBA_DATA_DIR), or
/// with neither set a fresh SQLite file in a temporary directory (never ./data), removed by `cleanUp()`.
struct BenchDatabase {
    var db: any Database
    var sql: any SQLDatabase
    var isPostgres: Bool
    var label: String
    var temporaryDirectory: String?

    static func prepare(_ app: Application, name: String) async throws -> BenchDatabase {
        guard app.environment != .production else { throw ConfigError("\(name) refuses to run in production.") }
        var temporaryDirectory: String?
        var label: String
        if app.config.databaseURL != nil {
            label = "PostgreSQL (DATABASE_URL)"
        } else if Environment.get("INTERBA_DATA_DIR").map({ !$0.isEmpty }) == true {
            label = "SQLite file \(app.config.dataDirectory)/interba.sqlite"
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("interba-bench-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            app.databases.use(.sqlite(.file(directory + "/interba.sqlite")), as: DatabaseID(string: "bench"), isDefault: true)
            temporaryDirectory = directory
            label = "SQLite file \(directory)/interba.sqlite (temporary)"
        }
        let db = app.db
        guard let sql = db as? any SQLDatabase else { throw ConfigError("\(name) needs an SQL database.") }
        let isPostgres = sql.dialect.name == "postgresql"
        if isPostgres {
            label = "PostgreSQL \(try await BenchNeedsAnalysisCommand.postgresVersion(sql))"
        } else {
            let version = try await sql.raw("SELECT sqlite_version() AS version").first()?.decode(column: "version", as: String.self)
            label = label.replacingOccurrences(of: "SQLite", with: "SQLite \(version ?? "?")")
        }
        return BenchDatabase(db: db, sql: sql, isPostgres: isPostgres, label: label, temporaryDirectory: temporaryDirectory)
    }

    func cleanUp() {
        if let temporaryDirectory { try? FileManager.default.removeItem(atPath: temporaryDirectory) }
    }
}
