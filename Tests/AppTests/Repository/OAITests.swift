@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("OAI-PMH 2.0 provider", .serialized)
struct OAITests {
    func oai(_ app: Application, _ query: String) async throws -> String {
        let response = try await app.testing().sendRequest(.GET, "/oai?\(query)")
        #expect(response.status == .ok)
        #expect(response.headers.first(name: .contentType)?.hasPrefix("text/xml") == true)
        return response.body.string
    }

    func expectError(_ app: Application, _ query: String, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let xml = try await oai(app, query)
        #expect(errorCode(xml) == code, "\(query)", sourceLocation: sourceLocation)
    }

    func count(_ xml: String, _ needle: String) -> Int { xml.components(separatedBy: needle).count - 1 }

    func errorCode(_ xml: String) -> String? {
        guard let range = xml.range(of: #"<error code="[a-zA-Z]+""#, options: .regularExpression) else { return nil }
        return String(xml[range]).replacingOccurrences(of: "<error code=\"", with: "").replacingOccurrences(of: "\"", with: "")
    }

    /// Harvests a whole list, following resumption tokens; returns every page.
    func harvest(_ app: Application, _ verb: String, _ arguments: String) async throws -> [String] {
        var pages = [try await oai(app, "verb=\(verb)&\(arguments)")]
        while let range = pages.last!.range(of: #"<resumptionToken[^>]*>[^<]+</resumptionToken>"#, options: .regularExpression) {
            let element = String(pages.last![range])
            let token = element[element.index(after: element.firstIndex(of: ">")!)..<element.range(of: "</")!.lowerBound]
            pages.append(try await oai(app, "verb=\(verb)&resumptionToken=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"))
            #expect(pages.count < 50)
        }
        return pages
    }

    @Test("every verb on the demo repository: counts, sets, deleted records, dates, paging")
    func verbs() async throws {
        try await withInterba(records: true) { app in
            let identify = try await oai(app, "verb=Identify")
            #expect(identify.contains("<protocolVersion>2.0</protocolVersion>"))
            #expect(identify.contains("<deletedRecord>persistent</deletedRecord>"))
            #expect(identify.contains("<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"))
            #expect(try await oai(app, "verb=ListMetadataFormats").contains("<metadataPrefix>oai_dc</metadataPrefix>"))
            let sets = try await oai(app, "verb=ListSets")
            #expect(sets.contains("<setSpec>area:A4</setSpec>"))
            #expect(sets.contains("<setSpec>institution:tirana</setSpec>"))

            // Only public records that were published: 50 live, 2 archived (deleted).
            let records = try await RepositoryRecord.query(on: app.db).all()
            let live = records.filter(\.isHarvestable)
            let deleted = records.filter { $0.harvestableSince != nil && !$0.isHarvestable }
            #expect(live.count == 50)
            #expect(deleted.count == 2)
            let pages = try await harvest(app, "ListRecords", "metadataPrefix=oai_dc")
            let all = pages.joined()
            #expect(count(all, "<header>") + count(all, "<header status=\"deleted\">") == 52)
            #expect(count(all, "<header status=\"deleted\">") == 2)
            #expect(count(all, "<oai_dc:dc ") == 50)
            // Network and institution-only records never appear, not even as identifiers.
            for hidden in records where hidden.visibility != .public {
                #expect(!all.contains(hidden.id!.uuidString.lowercased()))
            }
            let identifiers = try await harvest(app, "ListIdentifiers", "metadataPrefix=oai_dc").joined()
            #expect(count(identifiers, "<identifier>") == 52)

            // GetRecord: a live one carries Dublin Core, a deleted one only its header.
            let source = RepositoryOAISource(db: app.db, config: app.config)
            let one = try await oai(app, "verb=GetRecord&metadataPrefix=oai_dc&identifier=\(source.identifier(live[0].id!))")
            #expect(one.contains("<dc:title>"))
            let gone = try await oai(app, "verb=GetRecord&metadataPrefix=oai_dc&identifier=\(source.identifier(deleted[0].id!))")
            #expect(gone.contains("<header status=\"deleted\">"))
            #expect(!gone.contains("<metadata>"))

            // Sets: an institution's records only.
            let tirana = try await app.institution("tirana").requireID()
            let tiranaLive = live.filter { $0.$institution.id == tirana }.count
            let tiranaAll = records.filter { $0.$institution.id == tirana && $0.harvestableSince != nil }.count
            let set = try await harvest(app, "ListIdentifiers", "metadataPrefix=oai_dc&set=institution:tirana").joined()
            #expect(count(set, "<identifier>") == tiranaAll)
            #expect(tiranaLive > 0)

            // Escaping: the title with & < > " stays text.
            #expect(all.contains("Students &amp; staff: &quot;global&quot; &lt;classrooms&gt;") || all.contains("Students &amp; staff: \"global\" &lt;classrooms&gt;"))

            // from/until at second granularity.
            let future = try await oai(app, "verb=ListRecords&metadataPrefix=oai_dc&from=2099-01-01T00:00:00Z")
            #expect(errorCode(future) == "noRecordsMatch")
            let stamp = live.map(\.datestamp).max()!
            let exact = OAIPMH.formatDatestamp(stamp)
            let window = try await oai(app, "verb=ListIdentifiers&metadataPrefix=oai_dc&from=\(exact)&until=\(exact)")
            #expect(count(window, "<identifier>") >= 1)
        }
    }

    @Test("every error code of the protocol")
    func errors() async throws {
        try await withInterba(records: true) { app in
            try await expectError(app, "verb=Nope", "badVerb")
            try await expectError(app, "", "badVerb")
            try await expectError(app, "verb=ListRecords", "badArgument")
            try await expectError(app, "verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01&until=2020-02-01T00:00:00Z", "badArgument")
            try await expectError(app, "verb=ListRecords&metadataPrefix=marc21", "cannotDisseminateFormat")
            try await expectError(app, "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:nowhere:1", "idDoesNotExist")
            try await expectError(app, "verb=ListRecords&resumptionToken=garbage", "badResumptionToken")
            try await expectError(app, "verb=ListRecords&metadataPrefix=oai_dc&set=area:A99", "noRecordsMatch")
            // Set names match exactly: no wildcards, no case folding.
            try await expectError(app, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=area:A_", "noRecordsMatch")
            try await expectError(app, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=INSTITUTION:TIRANA", "noRecordsMatch")
        }
        // With nothing to group by (no areas, no institutions) there is no set hierarchy.
        struct Empty: OAIDataSource {
            func identity() async throws -> OAIIdentity {
                OAIIdentity(repositoryName: "x", baseURL: "http://x/oai", adminEmails: ["a@x.org"], earliestDatestamp: Date(timeIntervalSince1970: 0), identifierPrefix: "oai:x.org:")
            }
            func sets() async throws -> [OAISet] { [] }
            func items(_ query: OAIListQuery) async throws -> (items: [OAIItem], total: Int) { ([], 0) }
            func item(identifier: String) async throws -> OAIItem? { nil }
        }
        let xml = try await OAIPMH.respond(params: [("verb", "ListSets")], source: Empty())
        #expect(errorCode(xml) == "noSetHierarchy")
    }

    @Test("resumption tokens carry the list size counted on the first page; tokens without it still work")
    func tokenCarriesTotal() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let state = OAIResumptionState(metadataPrefix: "oai_dc", set: "area:A4", from: date, until: nil, offset: 200, total: 1234)
        let token = OAIResumptionToken.encode(state)
        #expect(OAIResumptionToken.decode(token) == state)
        // A token of the earlier form (no size) decodes with the size unknown, so that page counts again.
        var old = state
        old.total = nil
        let oldToken = OAIResumptionToken.encode(old)
        #expect(oldToken != token)
        #expect(OAIResumptionToken.decode(oldToken)?.total == nil)
        #expect(OAIResumptionToken.decode(oldToken)?.offset == 200)
        // Any edit breaks the checksum.
        var edited = Array(token)
        edited[edited.count / 2] = edited[edited.count / 2] == "A" ? "B" : "A"
        #expect(OAIResumptionToken.decode(String(edited)) == nil)
    }

    @Test("a public record that becomes network-only or archived stays harvestable as deleted")
    func persistentDeletes() async throws {
        try await withInterba(records: false) { app in
            let author = WebClient(app)
            try await author.signIn(demo("staff.tirana"))
            let curator = WebClient(app)
            try await curator.signIn(demo("curator.tirana"))
            let id = try await author.createRecord(recordFields(title: "Harvest me"))
            let source = RepositoryOAISource(db: app.db, config: app.config)
            let identifier = source.identifier(id)
            try await expectError(app, "verb=GetRecord&metadataPrefix=oai_dc&identifier=\(identifier)", "idDoesNotExist")
            try await publishRecord(app, author: author, curator: curator, id: id)
            #expect(try await oai(app, "verb=GetRecord&metadataPrefix=oai_dc&identifier=\(identifier)").contains("<dc:title>Harvest me</dc:title>"))
            #expect(try await author.post("/repository/\(id.uuidString)/visibility", [("visibility", "network")]).status == .seeOther)
            let hidden = try await oai(app, "verb=GetRecord&metadataPrefix=oai_dc&identifier=\(identifier)")
            #expect(hidden.contains("<header status=\"deleted\">"))
            #expect(!hidden.contains("Harvest me"))
            #expect(try await author.post("/repository/\(id.uuidString)/visibility", [("visibility", "public")]).status == .seeOther)
            #expect(try await oai(app, "verb=GetRecord&metadataPrefix=oai_dc&identifier=\(identifier)").contains("<dc:title>Harvest me</dc:title>"))
            #expect(try await author.post("/repository/\(id.uuidString)/archive", [("comment", "Outdated")]).status == .seeOther)
            #expect(try await oai(app, "verb=GetRecord&metadataPrefix=oai_dc&identifier=\(identifier)").contains("<header status=\"deleted\">"))
            #expect(try await app.searchIndex.search(SearchRequest(text: "harvest"), on: app.db).total == 0)
        }
    }
}
