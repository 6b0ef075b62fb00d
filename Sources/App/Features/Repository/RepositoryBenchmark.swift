import Fluent
import FluentSQL
import Vapor

/// `interba bench-repository [--records 100000]`: the speed benchmark of the knowledge repository
/// (benchmarks/README.md). Generates N published records in eight languages (setup), then times with the wall clock:
/// indexing all of them, searches with words and two facets (p95), and OAI-PMH ListRecords pages followed by their
/// resumption tokens (p95). Same database rules as bench-needs-analysis: the configured database, or a temporary SQLite
/// file; the generated records are deleted at the end (--keep keeps them).
struct BenchRepositoryCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "records", help: "Number of records (default 100000)") var records: Int?
        @Option(name: "queries", help: "Timed searches per kind (default 200)") var queries: Int?
        @Option(name: "pages", help: "Timed OAI-PMH pages (default 30)") var pages: Int?
        @Flag(name: "keep", help: "Keep the generated records in the database") var keep: Bool
    }

    var help: String { "Benchmarks the repository's indexing, faceted search and OAI-PMH (a scratch database only)." }

    typealias Bench = BenchNeedsAnalysisCommand

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let console = context.console
        let count = max(100, signature.records ?? 100_000)
        let queries = max(10, signature.queries ?? 200)
        let pages = max(1, signature.pages ?? 30)
        let bench = try await BenchDatabase.prepare(app, name: "bench-repository")
        defer { bench.cleanUp() }
        let db = bench.db
        console.print("Interba repository benchmark — \(bench.label)")

        var clock = ContinuousClock.now
        try await tuneSQLite(app)
        try await app.autoMigrate()
        let hasDemo = try await User.query(on: db).filter(\.$email == "admin@\(DemoSeeder.domain)").first() != nil
        if !hasDemo, try await User.query(on: db).count() > 0 {
            throw ConfigError("This database holds accounts but not the demo data set: bench-repository only runs on a scratch database.")
        }
        if !hasDemo { _ = try await DemoSeeder.seed(app, on: db, withCampaigns: false, withRecords: false, withCoordination: false, withTraining: false) }
        let seedTime = ContinuousClock.now - clock

        clock = ContinuousClock.now
        let generated = try await Self.generate(count, on: db)
        let insertTime = ContinuousClock.now - clock
        console.print("data: \(Bench.grouped(count)) published records (\(Bench.grouped(generated.documents.filter { $0.visibility == .public }.count)) public), "
                      + "titles and descriptions of 67 words: 1 in 8 from \(Self.vocabulary.count) topical words of sq, sr, mk, bs/hr, en, the rest from 20,000 others")
        console.print("setup (not measured): demo data \(Bench.ms(seedTime)), insert records and versions \(Bench.ms(insertTime))")
        console.print("build: \(Bench.isDebugBuild ? "debug" : "release")")

        var rows: [Bench.Row] = []
        let index = app.searchIndex
        // (1) Indexing: every record's text and facets into the index, in batches.
        rows.append(Bench.Row(name: "1  index \(Bench.grouped(count)) records", times: try await Bench.measure(1) {
            try await index.upsert(generated.documents, on: db)
        }, target: 60_000))
        if bench.isPostgres {
            try await bench.sql.raw("ANALYZE repository_search").run()
        }

        // (2) Searches as a visitor: words + two facets (area and language), and the parts on their own.
        var random = SplitMix(seed: 7)
        func word() -> String { Self.vocabulary[Int(random.next() % UInt64(Self.vocabulary.count))] }
        func area() -> String { "A\(1 + Int(random.next() % 13))" }
        func language() -> String { Self.languages[Int(random.next() % UInt64(Self.languages.count))] }
        var hitCounts: [Int] = []
        // As the search page does: the facet counts on a connection of the other event loop, beside the page.
        let besides = app.database(besides: db.eventLoop, logger: app.logger)
        func timed(_ name: String, target: Double?, _ make: () -> SearchRequest) async throws -> Bench.Row {
            var times: [Duration] = []
            for _ in 0..<queries {
                let request = make()
                let start = ContinuousClock.now
                let result = try await index.search(request, on: db, besides: besides)
                times.append(ContinuousClock.now - start)
                hitCounts.append(result.total)
            }
            return Bench.Row(name: name, times: times, target: target, onP95: target != nil)
        }
        rows.append(try await timed("2  search: a word + area + language facets", target: 30) {
            SearchRequest(text: word(), filters: ["area": [area()], "language": [language()]])
        })
        let twoFacetHits = hitCounts
        hitCounts = []
        rows.append(try await timed("   search: a word in half the records + two facets", target: nil) {
            SearchRequest(text: "students", filters: ["area": [area()], "language": [language()]])
        })
        rows.append(try await timed("   search: two words, no filter", target: nil) { SearchRequest(text: "\(word()) \(word())") })
        rows.append(try await timed("   search: area + language facets, no words", target: nil) {
            SearchRequest(text: "", filters: ["area": [area()], "language": [language()]])
        })
        rows.append(try await timed("   search: everything (no words, no filter)", target: nil) { SearchRequest(text: "") })

        // (3) OAI-PMH ListRecords: the first page and the pages its resumption tokens lead to.
        let source = RepositoryOAISource(db: db, config: app.config)
        var times: [Duration] = []
        var params: [(String, String)] = [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")]
        var bytes = 0
        for _ in 0..<pages {
            let start = ContinuousClock.now
            let xml = try await OAIPMH.respond(params: params, source: source)
            times.append(ContinuousClock.now - start)
            bytes = max(bytes, xml.utf8.count)
            guard let range = xml.range(of: #"<resumptionToken[^>]*>[^<]+</resumptionToken>"#, options: .regularExpression) else { break }
            let element = xml[range]
            guard let open = element.firstIndex(of: ">"), let close = element.range(of: "</")?.lowerBound else { break }
            params = [("verb", "ListRecords"), ("resumptionToken", String(element[element.index(after: open)..<close]))]
        }
        rows.append(Bench.Row(name: "3  OAI-PMH ListRecords page (100 records)", times: times, target: 50, onP95: true))

        let sortedHits = twoFacetHits.sorted()
        console.print("hits of the word + two facets searches: median \(sortedHits[sortedHits.count / 2]), max \(sortedHits.last ?? 0); "
                      + "largest OAI page \(Bench.grouped(bytes)) bytes")
        console.print("")
        for line in Bench.table(rows) { console.print(line) }
        console.print("")

        if !signature.keep && bench.temporaryDirectory == nil {
            clock = ContinuousClock.now
            try await index.remove(recordIDs: generated.recordIDs, on: db)
            for chunk in stride(from: 0, to: generated.recordIDs.count, by: 1000) {
                let ids = Array(generated.recordIDs[chunk..<min(chunk + 1000, generated.recordIDs.count)])
                try await RecordVersion.query(on: db).filter(\.$record.$id ~~ ids).delete()
                try await RepositoryRecord.query(on: db).filter(\.$id ~~ ids).delete()
            }
            console.print("cleanup: the generated records deleted in \(Bench.ms(ContinuousClock.now - clock)) (--keep keeps them)")
        }
        let missed = rows.filter { $0.missed }
        console.print(missed.isEmpty ? "targets: all met" : "targets missed: " + missed.map { $0.name.trimmingCharacters(in: .whitespaces) }.joined(separator: "; "))
    }

    // MARK: data

    static let languages = ["en", "sq", "sr-Cyrl", "sr-Latn", "mk", "bs", "hr", "cnr"]

    /// Words of the network's languages, with their diacritics and scripts.
    static let vocabulary: [String] = """
        internationalisation curriculum intercultural competence virtual exchange mobility blended learning outcomes \
        assessment students staff partnership community diaspora guest lecture teaching methods quality indicators \
        strategy coordinator network knowledge transfer project erasmus tempus inclusion diversity language tandem \
        buddy programme international week digital platform open resources benchmark monitoring evaluation training \
        kooperim ndërkombëtar mësimdhënie studentët universiteti përvojë ndërkulturore bashkëpunim zhvillim cilësi \
        programi strategjia komuniteti gjuhë mobiliteti vlerësim trajnim rrjeti njohuri projekt udhëzues praktika \
        učenje razvoj saradnja nastava studenti nastavnici kvalitet zajednica međunarodni interkulturalni kompetencije \
        mobilnost vrednovanje obuka mreža znanje projekat smjernice praksa jezik uključivanje različitost digitalni \
        учење развој сарадња настава студенти наставници квалитет заједница међународни интеркултурни компетенције \
        мобилност вредновање обука мрежа знање пројекат смернице пракса језик укључивање разноликост дигитални \
        настава соработка развој студентите универзитет интеркултурна компетентност мобилност оценување обука \
        мрежа знаење проект упатство практика јазик вклучување дигитална заедница квалитет стратегија
        """.split(whereSeparator: \.isWhitespace).map(String.init)

    /// A made-up word for the long tail, deterministic per number (e.g. "kavelomi").
    static func tailWord(_ n: Int) -> String {
        let syllables = ["ka", "ve", "lo", "mi", "ra", "tu", "sen", "dor", "pi", "zu", "mar", "eli", "ko", "nas", "tri", "gu"]
        var value = n, word = ""
        repeat { word += syllables[value % syllables.count]; value /= syllables.count } while value > 0
        return word + "i"
    }

    struct Generated {
        var recordIDs: [UUID]
        var documents: [SearchDocument]
    }

    /// N published records with versions, bulk-inserted (500 rows per statement); returns their search documents.
    static func generate(_ count: Int, on db: any Database) async throws -> Generated {
        guard let admin = try await User.query(on: db).filter(\.$email == "admin@\(DemoSeeder.domain)").first() else {
            throw ConfigError("The demo admin is missing.")
        }
        let adminID = try admin.requireID()
        let institutions = try await Institution.query(on: db).all()
        let types = try await ResourceType.query(on: db).all().map(\.code)
        let licences = try await Licence.query(on: db).all().map(\.spdx)
        var random = SplitMix(seed: 42)
        func pick<T>(_ list: [T]) -> T { list[Int(random.next() % UInt64(list.count))] }
        // Text: a few topical words (the query vocabulary) in a long tail of 20,000 other words, roughly as in real
        // prose; "students" is in every other record, to time a very common word too.
        func tail() -> String { Self.tailWord(Int(random.next() % 20_000)) }
        func words(_ n: Int) -> String {
            (0..<n).map { i in i % 8 == 0 ? pick(vocabulary) : tail() }.joined(separator: " ") + (random.next() % 2 == 0 ? " students" : "")
        }
        let start = Date().addingTimeInterval(-Double(count) * 60)
        var ids: [UUID] = []
        var documents: [SearchDocument] = []
        ids.reserveCapacity(count)
        documents.reserveCapacity(count)
        for chunk in stride(from: 0, to: count, by: 2000) {
            var records: [RepositoryRecord] = []
            var versions: [RecordVersion] = []
            for i in chunk..<min(chunk + 2000, count) {
                let institution = pick(institutions)
                let roll = random.next() % 100
                let visibility: RecordVisibility = roll < 85 ? .public : (roll < 95 ? .network : .institution)
                let date = start.addingTimeInterval(Double(i) * 60)
                let areas = Array(Set((0..<(1 + Int(random.next() % 3))).map { _ in "A\(1 + Int(random.next() % 13))" })).sorted()
                let languages = Array(Set((0..<(1 + Int(random.next() % 2))).map { _ in pick(Self.languages) })).sorted()
                let metadata = RecordMetadata(
                    title: words(7).capitalized, description: words(60),
                    creators: [RecordCreator(name: "Author \(i % 997)", affiliation: institution.names["en"] ?? "", orcid: nil)],
                    resourceType: pick(types), areas: areas, activityTypes: [], languages: languages, audience: "Academic staff",
                    countryCode: institution.countryCode, year: 2010 + Int(random.next() % 17), licence: pick(licences),
                    relatedIdentifiers: [], origin: "", links: [])
                let record = RepositoryRecord(institutionID: try institution.requireID(), ownerID: adminID, visibility: visibility, now: date)
                record.id = UUID()
                record.publishedVersion = 1
                record.harvestableSince = visibility == .public ? date : nil
                record.oaiSets = " " + (areas.map { "area:\($0)" } + ["institution:\(institution.slug)"]).joined(separator: " ") + " "
                let version = RecordVersion(recordID: record.id!, number: 1, metadata: metadata, createdByID: adminID)
                version.id = UUID()
                version.state = .published
                version.publishedAt = date
                records.append(record)
                versions.append(version)
                ids.append(record.id!)
                documents.append(RepositoryService.document(record: record, version: version, fileTexts: []))
            }
            try await db.transaction { tx in
                for slice in stride(from: 0, to: records.count, by: 500) {
                    try await Array(records[slice..<min(slice + 500, records.count)]).create(on: tx)
                    try await Array(versions[slice..<min(slice + 500, versions.count)]).create(on: tx)
                }
            }
        }
        return Generated(recordIDs: ids, documents: documents)
    }
}

/// A small deterministic random generator, so every run generates the same data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
