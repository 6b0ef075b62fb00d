@testable import App
import Fluent
import FluentSQL
import Foundation
import Testing
import Vapor
import VaporTesting

/// A record typed by staff.tirana, through the same form fields as the page.
func recordFields(title: String, description: String = "A short guide for academic staff.", orcid: String = "",
                  licence: String = "CC-BY-4.0", areas: [String] = ["A4"], languages: [String] = ["en"],
                  visibility: String = "public") -> [(String, String)] {
    var fields: [(String, String)] = [
        ("title", title), ("description", description),
        ("creators[0][name]", "Sara Stafi"), ("creators[0][affiliation]", "University of Tirana"), ("creators[0][orcid]", orcid),
        ("resource_type", "guideline"), ("country", "AL"), ("year", "2024"), ("licence", licence), ("audience", "Academic staff"),
        ("origin", ""), ("visibility", visibility),
    ]
    fields += areas.map { ("areas[]", $0) }
    fields += languages.map { ("languages[]", $0) }
    return fields
}

extension WebClient {
    /// Creates a draft through the form and returns its id.
    func createRecord(_ fields: [(String, String)]) async throws -> UUID {
        let response = try await post("/repository", fields)
        #expect(response.status == .seeOther, "creating a record failed: \(response.status) \(response.body.string.prefix(300))")
        let location = response.headers.first(name: .location) ?? ""
        return try #require(UUID(uuidString: location.replacingOccurrences(of: "/repository/", with: "").replacingOccurrences(of: "/edit#files", with: "")))
    }

    /// Posts a multipart upload with the session's CSRF token.
    func upload(_ path: String, filename: String, data: Data, contentType: String = "application/octet-stream",
                field: String = "file") async throws -> TestingHTTPResponse {
        let token = try await csrfToken()
        let boundary = "----interba-test-\(UUID().uuidString)"
        var body = Data()
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(token)\r\n".utf8))
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(filename)\"\r\nContent-Type: \(contentType)\r\n\r\n".utf8))
        body.append(data)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "multipart/form-data; boundary=\(boundary)")
        headers.replaceOrAdd(name: .cookie, value: cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; "))
        return try await app.testing().sendRequest(.POST, path, headers: headers, body: ByteBuffer(data: body))
    }
}

/// Publishes a record written by `author` through submit + curator approval.
func publishRecord(_ app: Application, author: WebClient, curator: WebClient, id: UUID) async throws {
    #expect(try await author.post("/repository/\(id.uuidString)/submit", []).status == .seeOther)
    #expect(try await curator.post("/repository/\(id.uuidString)/review", [("decision", "approve"), ("comment", "Good.")]).status == .seeOther)
    let record = try #require(try await RepositoryRecord.find(id, on: app.db))
    #expect(record.publishedVersion == 1)
}

@Suite("Knowledge repository: search", .serialized)
struct RepositorySearchTests {
    func total(_ app: Application, _ text: String, filters: [String: [String]] = [:], scope: VisibilityScope = .anonymous) async throws -> SearchResult {
        try await app.searchIndex.search(SearchRequest(text: text, filters: filters, scope: scope), on: app.db)
    }

    @Test("diacritic- and case-insensitive, Cyrillic, phrases, OR and minus, on this database")
    func folding() async throws {
        try await withInterba(records: true) { app in
            // kooperim ~ Kooperimi/kooperim (Albanian), ucenje ~ učenje, razvoj ~ Razvoj, Cyrillic stays Cyrillic.
            let kooperim = try await total(app, "kooperim")
            #expect(kooperim.total >= 1)
            #expect(try await total(app, "KOOPERIM").total == kooperim.total)
            let ucenje = try await total(app, "ucenje")
            #expect(ucenje.total >= 2)
            #expect(try await total(app, "učenje").total == ucenje.total)
            #expect(ucenje.hits.contains { $0.snippet.lowercased().contains("<mark>učenje</mark>") || $0.title.lowercased().contains("učenje") })
            #expect(try await total(app, "razvoj").total >= 1)
            let cyrillic = try await total(app, "развој")
            #expect(cyrillic.total >= 1)
            #expect(cyrillic.hits.contains { $0.snippet.contains("<mark>развој</mark>") || $0.title.lowercased().contains("развој") })
            // Text from files is searchable: the ODT is Macedonian, the PDF Albanian.
            #expect(try await total(app, "рефлексија").total >= 1)
            // OR widens, minus narrows, a phrase is stricter than its words.
            let coil = try await total(app, "coil").total
            let tandem = try await total(app, "tandem").total
            let either = try await total(app, "coil OR tandem").total
            #expect(either >= max(coil, tandem) && either <= coil + tandem)
            #expect(try await total(app, "coil -virtual").total <= coil)
            #expect(try await total(app, "\"virtual exchange\"").total <= (try await total(app, "virtual exchange").total))
            // Syntax that breaks FTS engines is harmless here.
            for text in ["\"unclosed", "AND OR", "OR", "-", "\"\"", "NEAR(", "*", "a:b", String(repeating: "x", count: 10_000)] {
                _ = try await total(app, text)
            }
            #expect(try await total(app, "AND OR").total == (try await total(app, "").total))
        }
    }

    @Test("facets count, combine and exclude only their own filter; sort by date; paging")
    func facets() async throws {
        try await withInterba(records: true) { app in
            let all = try await total(app, "")
            #expect(all.total == 50, "the demo data set has 50 public published records")
            let areaA4 = all.facets["area"]?.first { $0.value == "A4" }?.count ?? 0
            #expect(areaA4 > 0)
            let inA4 = try await total(app, "", filters: ["area": ["A4"]])
            #expect(inA4.total == areaA4)
            // Area alternatives stay visible with their own counts while A4 is chosen.
            #expect((inA4.facets["area"] ?? []).count == (all.facets["area"] ?? []).count)
            let english = inA4.facets["language"]?.first { $0.value == "en" }?.count ?? 0
            let both = try await total(app, "", filters: ["area": ["A4"], "language": ["en"]])
            #expect(both.total == english)
            #expect(both.total <= inA4.total)
            // Two areas: either one.
            let a3 = all.facets["area"]?.first { $0.value == "A3" }?.count ?? 0
            let either = try await total(app, "", filters: ["area": ["A3", "A4"]])
            #expect(either.total >= max(a3, areaA4) && either.total <= a3 + areaA4)
            // Newest first, and pages do not overlap.
            let first = try await app.searchIndex.search(SearchRequest(text: "", sort: .date, offset: 0, limit: 20), on: app.db)
            let second = try await app.searchIndex.search(SearchRequest(text: "", sort: .date, offset: 20, limit: 20), on: app.db)
            #expect(first.hits.map(\.publishedAt) == first.hits.map(\.publishedAt).sorted(by: >))
            #expect(Set(first.hits.map(\.recordID)).isDisjoint(with: second.hits.map(\.recordID)))
            #expect(first.hits.last!.publishedAt >= second.hits.first!.publishedAt)
        }
    }

    @Test("every facet count equals the total of the search with that value as the facet's only filter, with words and one to three filters, in each visibility scope, with and without a second connection")
    func facetCountsByHand() async throws {
        try await withInterba(records: true) { app in
            let network = VisibilityScope(signedIn: true)
            let admin = VisibilityScope(everything: true)
            let besides = app.database(besides: app.db.eventLoop, logger: app.logger)
            let cases: [(String, [String: [String]])] = [
                ("", ["area": ["A4"]]),
                ("", ["area": ["A4", "A1"], "language": ["en"]]),
                ("", ["area": ["A4"], "language": ["en", "sq"], "type": ["guideline"]]),
                ("internationalisation OR mobility OR students", [:]),
                ("internationalisation OR mobility OR students", ["language": ["en"]]),
                ("internationalisation OR mobility OR students", ["area": ["A4", "A2"], "language": ["en"]]),
                ("internationalisation OR mobility OR students", ["area": ["A4"], "year": ["2024", "2023"], "country": ["AL", "XK"]]),
            ]
            var checked = 0
            for scope in [VisibilityScope.anonymous, network, admin] {
                for (text, filters) in cases {
                    let request = SearchRequest(text: text, filters: filters, scope: scope)
                    let result = try await app.searchIndex.search(request, on: app.db, besides: besides)
                    let alone = try await app.searchIndex.search(request, on: app.db, besides: nil)
                    #expect(result.total == alone.total)
                    #expect(result.facets.mapValues { $0.map { "\($0.value)=\($0.count)" } } == alone.facets.mapValues { $0.map { "\($0.value)=\($0.count)" } })
                    for (facet, values) in result.facets {
                        for (value, count) in values {
                            var only = filters
                            only[facet] = [value]
                            let expected = try await app.searchIndex.search(SearchRequest(text: text, filters: only, limit: 1, scope: scope), on: app.db).total
                            #expect(count == expected, "\(facet)=\(value) for \(text.isEmpty ? "no words" : text) + \(filters) in \(scope)")
                            checked += 1
                        }
                    }
                    // A value with no count has no match.
                    for facet in SearchFacet.all where !filters.isEmpty {
                        #expect((result.facets[facet] ?? []).allSatisfy { $0.count > 0 })
                    }
                }
            }
            #expect(checked > 200, "only \(checked) counts were checked")
        }
    }

    @Test("the facet lists are rebuilt into facet rows by the migration's revert and back, with the same counts")
    func facetListMigration() async throws {
        try await withInterba(records: true) { app in
            let request = SearchRequest(text: "", filters: ["area": ["A4"], "language": ["en"]], scope: VisibilityScope(everything: true))
            let before = try await app.searchIndex.search(request, on: app.db)
            #expect(!before.facets.isEmpty)
            try await SearchFacetLists().revert(on: app.db)
            let sql = try #require(app.db as? any SQLDatabase)
            struct Count: Decodable { var n: Int }
            let rows = try #require(try await sql.raw("SELECT COUNT(*) AS n FROM repository_facets").first(decoding: Count.self)).n
            #expect(rows > 100, "the demo records' facet values come back as rows")
            try await SearchFacetLists().prepare(on: app.db)
            let after = try await app.searchIndex.search(request, on: app.db)
            #expect(after.total == before.total)
            #expect(after.facets.mapValues { $0.map { "\($0.value)=\($0.count)" } } == before.facets.mapValues { $0.map { "\($0.value)=\($0.count)" } })
        }
    }

    @Test("the search page: results, facets, empty result with suggestions, bad queries")
    func page() async throws {
        try await withInterba(records: true) { app in
            let web = WebClient(app)
            let page = try await web.get("/repository?q=ucenje")
            #expect(page.status == .ok)
            #expect(page.body.string.contains("<mark>"))
            #expect(page.body.string.contains("id=\"facet-area\""))
            let none = try await web.get("/repository?q=zzzqqq&area=A4")
            #expect(none.body.string.contains("id=\"no-results\""))
            #expect(none.body.string.contains("id=\"suggest-clear\""))
            // The search box sends spaces as "+": two words, not a phrase; links escape a real "+".
            let plus = try await web.get("/repository?q=coil+tandem&area=A4")
            let spaced = try await web.get("/repository?q=coil%20tandem&area=A4")
            #expect(plus.body.string.components(separatedBy: "class=\"hit\"").count == spaced.body.string.components(separatedBy: "class=\"hit\"").count)
            #expect(plus.body.string.contains("value=\"coil tandem\""))
            #expect(try await web.get("/repository?q=c%2B%2B").body.string.contains("value=\"c++\""))
            for bad in ["%22unclosed", "AND%20OR", String(repeating: "a%20", count: 2500)] {
                #expect(try await web.get("/repository?q=\(bad)").status == .ok)
            }
            // The XSS-looking title of the demo data is escaped, never markup.
            let escaped = try await web.get("/repository?q=classrooms")
            #expect(escaped.body.string.contains("&lt;classrooms&gt;"))
            #expect(!escaped.body.string.contains("<classrooms>"))
        }
    }
}

@Suite("Knowledge repository: workflow, files, visibility", .serialized)
struct RepositoryWorkflowTests {
    @Test("author drafts → submits → curator of the institution publishes; another institution's curator may not")
    func workflow() async throws {
        try await withInterba(records: false) { app in
            let author = WebClient(app)
            try await author.signIn(demo("staff.tirana"))
            let id = try await author.createRecord(recordFields(title: "Përvojat e kooperimit ndërkombëtar"))
            // Drafts are not in search and not visible to others.
            #expect(try await app.searchIndex.search(SearchRequest(text: "kooperimit"), on: app.db).total == 0)
            let anonymous = WebClient(app)
            #expect(try await anonymous.get("/repository/\(id.uuidString)").status == .notFound)
            #expect(try await author.post("/repository/\(id.uuidString)/submit", []).status == .seeOther)
            let version = try #require(try await RecordVersion.query(on: app.db).filter(\.$record.$id == id).first())
            #expect(version.state == .inReview)
            // A draft in review can't be edited, and another institution's coordinator can't review it.
            let outsider = WebClient(app)
            try await outsider.signIn(demo("coordinator.prishtina"))
            #expect(try await outsider.post("/repository/\(id.uuidString)/review", [("decision", "approve")]).status == .forbidden)
            let curator = WebClient(app)
            try await curator.signIn(demo("curator.tirana"))
            let queue = try await curator.get("/repository/review")
            #expect(queue.body.string.contains("Përvojat e kooperimit ndërkombëtar"))
            // Asking for changes needs a comment, then goes back to the author as a draft.
            let noComment = try await curator.post("/repository/\(id.uuidString)/review", [("decision", "changes"), ("comment", "")])
            #expect(noComment.status == .unprocessableEntity)
            #expect(try await curator.post("/repository/\(id.uuidString)/review", [("decision", "changes"), ("comment", "Add the year of the project.")]).status == .seeOther)
            #expect(try await RecordVersion.find(version.id, on: app.db)?.state == .draft)
            let history = try await author.get("/repository/\(id.uuidString)")
            #expect(history.body.string.contains("Add the year of the project."))
            try await publishRecord(app, author: author, curator: curator, id: id)
            // Published: found without diacritics, by anyone.
            let hits = try await app.searchIndex.search(SearchRequest(text: "kooperimit nderkombetar"), on: app.db)
            #expect(hits.hits.map(\.recordID) == [id])
            #expect(try await anonymous.get("/repository/\(id.uuidString)").status == .ok)
            // Published versions never change; a new version does, and the concept URL shows the newest published.
            #expect(try await author.post("/repository/\(id.uuidString)/edit", recordFields(title: "Changed")).status == .seeOther)
            #expect(try await RecordVersion.find(version.id, on: app.db)?.title == "Përvojat e kooperimit ndërkombëtar")
            #expect(try await author.post("/repository/\(id.uuidString)/new-version", []).status == .seeOther)
            #expect(try await author.post("/repository/\(id.uuidString)/edit", recordFields(title: "Përvojat e kooperimit, 2025")).status == .seeOther)
            #expect(try await anonymous.get("/repository/\(id.uuidString)").body.string.contains("Përvojat e kooperimit ndërkombëtar"))
            #expect(try await author.post("/repository/\(id.uuidString)/submit", []).status == .seeOther)
            #expect(try await curator.post("/repository/\(id.uuidString)/review", [("decision", "approve")]).status == .seeOther)
            let latest = try await anonymous.get("/repository/\(id.uuidString)")
            #expect(latest.body.string.contains("Përvojat e kooperimit, 2025"))
            let older = try await anonymous.get("/repository/\(id.uuidString)/v/1")
            #expect(older.status == .ok)
            #expect(older.body.string.contains("id=\"older-notice\""))
            #expect(try await app.searchIndex.search(SearchRequest(text: "2025 kooperimit"), on: app.db).total == 1)
        }
    }

    @Test("bad input: malformed ORCID, unknown licence, XSS; the form keeps what was typed and nothing is stored")
    func validation() async throws {
        try await withInterba(records: false) { app in
            let author = WebClient(app)
            try await author.signIn(demo("staff.tirana"))
            let before = try await RepositoryRecord.query(on: app.db).count()
            let bad = try await author.post("/repository", recordFields(title: "<script>alert(1)</script> Učenje", orcid: "0000-0002-1825-0098", licence: "WTFPL"))
            #expect(bad.status == .unprocessableEntity)
            let html = bad.body.string
            #expect(html.contains(app.catalog.text("repository.error.orcid", .en).html))
            #expect(html.contains(app.catalog.text("repository.error.licence", .en).html))
            #expect(html.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt; Učenje\""))
            #expect(html.contains("value=\"0000-0002-1825-0098\""))
            #expect(!html.contains("<script>alert(1)</script>"))
            #expect(try await RepositoryRecord.query(on: app.db).count() == before)
            // The valid ORCID (with the URL form) is accepted and stored canonically; the title is stored as typed and escaped on output.
            let id = try await author.createRecord(recordFields(title: "<script>alert(1)</script> Učenje", orcid: "https://orcid.org/0000-0002-1825-0097"))
            let version = try #require(try await RecordVersion.query(on: app.db).filter(\.$record.$id == id).first())
            #expect(version.creators.first?.orcid == "0000-0002-1825-0097")
            let page = try await author.get("/repository/\(id.uuidString)")
            #expect(page.body.string.contains("&lt;script&gt;alert(1)&lt;/script&gt; Učenje"))
            #expect(!page.body.string.contains("<script>alert(1)</script>"))
        }
    }

    @Test("files: type from content, size limit, empty, checksum, download with range, visibility")
    func files() async throws {
        try await withInterba(records: false) { app in
            app.config.maxUploadBytes = 64 * 1024
            let author = WebClient(app)
            try await author.signIn(demo("staff.tirana"))
            let id = try await author.createRecord(recordFields(title: "Udhëzues për java ndërkombëtare", visibility: "network"))
            let text = Data("Java ndërkombëtare: bashkëpunimi me komunitetin lokal. Zëri i studentëve.\n".utf8)
            let ok = try await author.upload("/repository/\(id.uuidString)/files", filename: "java.txt", data: text, contentType: "application/pdf")
            #expect(ok.status == .seeOther)
            let file = try #require(try await RecordFile.query(on: app.db).first())
            #expect(file.mediaType.hasPrefix("text/plain"))
            #expect(file.sha256 == LocalFileStorage.sha256(text))
            #expect(file.extractedText?.contains("bashkëpunimi") == true)
            // A PNG named .pdf, an empty file, an oversized one: refused with a message, nothing stored.
            let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0, count: 64))
            let mismatch = try await author.upload("/repository/\(id.uuidString)/files", filename: "report.pdf", data: png)
            #expect(mismatch.status == .unprocessableEntity)
            #expect(mismatch.body.string.contains(app.catalog.text("repository.error.file-extension-mismatch", .en).html))
            let empty = try await author.upload("/repository/\(id.uuidString)/files", filename: "empty.txt", data: Data())
            #expect(empty.status == .unprocessableEntity)
            #expect(empty.body.string.contains(app.catalog.text("repository.error.file-empty", .en).html))
            let big = try await author.upload("/repository/\(id.uuidString)/files", filename: "big.txt", data: Data(repeating: 0x61, count: 70 * 1024))
            #expect(big.status == .unprocessableEntity)
            #expect(big.body.string.contains(app.catalog.text("repository.error.file-too-large", .en).html))
            // Far above the limit, the body is refused before it reaches the form: the page says what the limit is.
            let huge = try await author.upload("/repository/\(id.uuidString)/files", filename: "huge.txt", data: Data(repeating: 0x61, count: 2 * 1024 * 1024))
            #expect(huge.status == .payloadTooLarge)
            let limit = ByteCountFormatter.string(fromByteCount: Int64(app.config.maxUploadBytes), countStyle: .file)
            #expect(huge.body.string.contains(app.catalog.text("error.too_large_upload", .en, [limit]).html))
            #expect(try await RecordFile.query(on: app.db).count() == 1)

            let curator = WebClient(app)
            try await curator.signIn(demo("curator.tirana"))
            try await publishRecord(app, author: author, curator: curator, id: id)
            // Network visibility: signed-in people find and download it, anonymous visitors do not.
            let path = "/repository/\(id.uuidString)/v/1/files/\(file.id!.uuidString)"
            let anonymous = WebClient(app)
            #expect(try await anonymous.get(path).status == .notFound)
            #expect(try await app.searchIndex.search(SearchRequest(text: "bashkepunimi"), on: app.db).total == 0)
            let member = WebClient(app)
            try await member.signIn(demo("staff.prishtina"))
            let scope = try await RepositoryService(db: app.db, storage: app.fileStorage, index: app.searchIndex, maxUploadBytes: 1)
                .scope(for: try await Actor.load(for: try await app.user(demo("staff.prishtina")), on: app.db))
            #expect(try await app.searchIndex.search(SearchRequest(text: "bashkepunimi", scope: scope), on: app.db).total == 1)
            let download = try await member.get(path)
            #expect(download.status == .ok)
            #expect(download.headers.first(name: .contentType)?.hasPrefix("text/plain") == true)
            #expect(download.headers.first(name: .contentDisposition)?.contains("filename=\"java.txt\"") == true)
            #expect(Data(buffer: download.body) == text)
            let range = try await member.get(path, headers: ["Range": "bytes=0-3"])
            #expect(range.status == .partialContent)
            #expect(range.headers.first(name: .contentRange) == "bytes 0-3/\(text.count)")
            #expect(Data(buffer: range.body) == text.prefix(4))
            #expect(try await member.get(path, headers: ["Range": "bytes=9999-"]).status == .rangeNotSatisfiable)
            // Institution-only: staff of another institution lose it, its own staff keep it.
            #expect(try await author.post("/repository/\(id.uuidString)/visibility", [("visibility", "institution")]).status == .seeOther)
            #expect(try await member.get(path).status == .notFound)
            #expect(try await member.get("/repository/\(id.uuidString)").status == .notFound)
            #expect(try await app.searchIndex.search(SearchRequest(text: "bashkepunimi", scope: scope), on: app.db).total == 0)
            #expect(try await curator.get(path).status == .ok)
        }
    }

    @Test("the API: search with total, items and facets; create with problem details; visibility")
    func api() async throws {
        try await withInterba(records: true) { app in
            let search = try await app.testing().sendRequest(.GET, "/api/v1/records?q=ucenje&area=A4&language=sr-Latn")
            #expect(search.status == .ok)
            struct Result: Decodable {
                struct Item: Decodable { var id: UUID; var title: String }
                struct Facet: Decodable { var value: String; var count: Int }
                var total: Int
                var items: [Item]
                var facets: [String: [Facet]]
            }
            let result = try JSONDecoder().decode(Result.self, from: Data(buffer: search.body))
            let direct = try await app.searchIndex.search(SearchRequest(text: "ucenje", filters: ["area": ["A4"], "language": ["sr-Latn"]]), on: app.db)
            #expect(result.total == direct.total)
            #expect(result.items.map(\.id) == direct.hits.map(\.recordID))
            #expect(result.facets["area"] != nil)
            let all = try JSONDecoder().decode(Result.self, from: Data(buffer: try await app.testing().sendRequest(.GET, "/api/v1/records?per_page=100").body))
            #expect(all.total == 50)
            #expect(all.items.count == 50)

            let token = try await apiToken(app, for: demo("staff.tirana"))
            var headers = token
            headers.contentType = .json
            let bad = try await app.testing().sendRequest(.POST, "/api/v1/records", headers: headers,
                                                          body: ByteBuffer(string: #"{"title":"x","description":"y","creators":[{"name":"A","affiliation":"B","orcid":"1234"}],"resourceType":"guideline","areas":["A4"],"languages":["en"],"countryCode":"AL","year":2024,"licence":"nope"}"#))
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("creators[0].orcid"))
            #expect(bad.body.string.contains("licence"))
            let good = try await app.testing().sendRequest(.POST, "/api/v1/records", headers: headers,
                                                           body: ByteBuffer(string: #"{"title":"API record","description":"From the API.","creators":[{"name":"A","affiliation":"B"}],"resourceType":"guideline","areas":["A4"],"languages":["en"],"countryCode":"AL","year":2024,"licence":"CC-BY-4.0","visibility":"public"}"#))
            #expect(good.status == .created)
            struct Created: Decodable { var id: UUID; var state: String; var title: String; var areas: [String] }
            let created = try JSONDecoder().decode(Created.self, from: Data(buffer: good.body))
            #expect(created.state == "draft")
            #expect(created.title == "API record")
            #expect(created.areas == ["A4"])
            // A draft is not visible to anonymous callers.
            #expect(try await app.testing().sendRequest(.GET, "/api/v1/records/\(created.id.uuidString)").status == .notFound)
            #expect(try await app.testing().sendRequest(.GET, "/api/v1/records/\(created.id.uuidString)", headers: token).status == .ok)
        }
    }
}

/// A bearer token for the person, through the service that makes them.
func apiToken(_ app: Application, for email: String) async throws -> HTTPHeaders {
    let service = AccountService(db: app.db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: "http://test",
                                 audit: .system, bcryptCost: 4)
    let (_, secret) = try await service.createToken(for: try await app.user(email), name: "test")
    var headers = HTTPHeaders()
    headers.bearerAuthorization = BearerAuthorization(token: secret)
    return headers
}
