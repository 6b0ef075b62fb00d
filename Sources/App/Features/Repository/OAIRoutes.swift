import Fluent
import FluentSQL
import Vapor

/// The OAI-PMH 2.0 provider at /oai (GET and POST). Only public, published records are harvestable; a record that
/// was once harvestable and is now archived or no longer public stays listed as deleted (persistent deleted records).
struct OAIRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("oai", use: respond)
        routes.post("oai", use: respond)
    }

    func respond(req: Request) async throws -> Response {
        let raw = req.method == .POST ? (req.body.string ?? "") : (req.url.query ?? "")
        let xml = try await OAIPMH.respond(params: OAIPMH.parseFormEncoded(raw), source: RepositoryOAISource(req: req))
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: OAIPMH.contentType)
        return Response(status: .ok, headers: headers, body: .init(string: xml))
    }
}

/// The repository as an OAI-PMH data source.
struct RepositoryOAISource: OAIDataSource {
    let db: any Database
    let baseURL: String
    let adminEmail: String

    init(req: Request) {
        self.init(db: req.db, config: req.application.config)
    }

    init(db: any Database, config: AppConfig) {
        self.db = db
        self.baseURL = config.baseURL
        // "Interba <no-reply@host>" → the address.
        let from = config.mailFrom
        if let open = from.firstIndex(of: "<"), let close = from.firstIndex(of: ">"), open < close {
            adminEmail = String(from[from.index(after: open)..<close])
        } else {
            adminEmail = from
        }
    }

    var host: String { URL(string: baseURL)?.host ?? "interba" }
    var identifierPrefix: String { "oai:\(host):" }

    func identifier(_ id: UUID) -> String { identifierPrefix + id.uuidString.lowercased() }

    func identity() async throws -> OAIIdentity {
        let earliest = try await RepositoryRecord.query(on: db).filter(\.$harvestableSince != nil).sort(\.$datestamp).first()?.datestamp
        return OAIIdentity(repositoryName: "Interba knowledge repository", baseURL: baseURL + "/oai", adminEmails: [adminEmail],
                           earliestDatestamp: earliest ?? Date(timeIntervalSince1970: 0), identifierPrefix: identifierPrefix)
    }

    func sets() async throws -> [OAISet] {
        var sets = [OAISet(spec: "area", name: "IaH areas"), OAISet(spec: "institution", name: "Institutions")]
        for area in try await Area.query(on: db).sort(\.$position).all() {
            sets.append(OAISet(spec: "area:\(area.code)", name: "\(area.code) \(area.names["en"] ?? area.code)"))
        }
        for institution in try await Institution.query(on: db).sort(\.$slug).all() {
            sets.append(OAISet(spec: "institution:\(institution.slug)", name: institution.names["en"] ?? institution.shortName))
        }
        return sets
    }

    func items(_ query: OAIListQuery) async throws -> (items: [OAIItem], total: Int) {
        var builder = RepositoryRecord.query(on: db).filter(\.$harvestableSince != nil)
        if let from = query.from { builder = builder.filter(\.$datestamp >= from) }
        if let until = query.untilExclusive { builder = builder.filter(\.$datestamp < until) }
        if let set = query.set {
            // Exact and case-sensitive: " area:A4 " for a set, " area:" for its parent. (LIKE would read "_" as a
            // wildcard, and ignores case on SQLite.)
            let needle = set.contains(":") ? " \(set) " : " \(set):"
            let position: SQLQueryString = (db as? any SQLDatabase)?.dialect.name == "postgresql"
                ? "strpos(oai_sets, \(bind: needle)) > 0" : "instr(oai_sets, \(bind: needle)) > 0"
            builder = builder.filter(.sql(embed: position))
        }
        // Later pages of a harvest take the size counted for the first one from the resumption token.
        let total: Int
        if let known = query.knownTotal { total = known } else { total = try await builder.copy().count() }
        let records = try await builder.sort(\.$datestamp).sort(\.$id).range(query.offset..<(query.offset + query.limit)).all()
        return (try await items(for: records), total)
    }

    func item(identifier: String) async throws -> OAIItem? {
        guard identifier.hasPrefix(identifierPrefix), let id = UUID(uuidString: String(identifier.dropFirst(identifierPrefix.count))),
              let record = try await RepositoryRecord.query(on: db).filter(\.$id == id).filter(\.$harvestableSince != nil).first()
        else { return nil }
        return try await items(for: [record]).first
    }

    /// Headers and Dublin Core for a page of records, with a few queries for the whole page. Everything looked up per
    /// record is put in dictionaries first (a model's property getters are not cheap, and a page has 100 records).
    func items(for records: [RepositoryRecord]) async throws -> [OAIItem] {
        var published: [UUID: Int] = [:]
        for record in records where record.isHarvestable {
            if let id = record.id, let number = record.publishedVersion { published[id] = number }
        }
        var versionOf: [UUID: RecordVersion] = [:]
        for version in try await RecordVersion.query(on: db).filter(\.$record.$id ~~ Array(published.keys)).all() {
            let recordID = version.$record.id
            if published[recordID] == version.number { versionOf[recordID] = version }
        }
        var formatsOf: [UUID: Set<String>] = [:]
        for file in try await RecordFile.query(on: db).filter(\.$version.$id ~~ versionOf.values.compactMap(\.id)).all() {
            formatsOf[file.$version.id, default: []].insert(file.mediaType)
        }
        func english(_ names: [String: String], _ fallback: String) -> String { names["en"] ?? fallback }
        var publisher: [UUID: String] = [:]
        for institution in try await Institution.query(on: db).all() {
            if let id = institution.id { publisher[id] = english(institution.names, institution.shortName) }
        }
        var areaName: [String: String] = [:]
        for area in try await Area.query(on: db).all() { areaName[area.code] = english(area.names, area.code) }
        var typeName: [String: String] = [:]
        for type in try await ResourceType.query(on: db).all() { typeName[type.code] = english(type.names, type.code) }
        var countryName: [String: String] = [:]
        for country in try await Country.query(on: db).all() { countryName[country.code] = english(country.names, country.code) }
        var rightsOf: [String: String] = [:]
        for licence in try await Licence.query(on: db).all() {
            rightsOf[licence.spdx] = "\(licence.spdx) \(licence.url ?? "")".trimmingCharacters(in: .whitespaces)
        }
        return records.map { record in
            let id = record.id!
            let sets = record.oaiSets.split(separator: " ").map(String.init)
            guard let version = versionOf[id] else {
                return OAIItem(identifier: identifier(id), datestamp: record.datestamp, setSpecs: sets, deleted: true, metadata: nil)
            }
            let licence = version.licence
            let dc = OAIDublinCore(
                titles: [version.title],
                creators: version.creators.map(\.name),
                subjects: version.areas.map { areaName[$0] ?? $0 },
                descriptions: [version.description],
                publishers: publisher[record.$institution.id].map { [$0] } ?? [],
                dates: [String(version.year)],
                types: [typeName[version.resourceType] ?? version.resourceType],
                formats: (version.id.flatMap { formatsOf[$0] } ?? []).sorted(),
                identifiers: ["\(baseURL)/repository/\(id.uuidString)"],
                languages: version.languages,
                relations: version.relatedIdentifiers.map { $0.scheme == "doi" ? "https://doi.org/\($0.value)" : $0.value } + version.links.map(\.url),
                rights: [rightsOf[licence] ?? licence],
                coverage: [countryName[version.countryCode] ?? version.countryCode])
            return OAIItem(identifier: identifier(id), datestamp: record.datestamp, setSpecs: sets, deleted: false, metadata: dc)
        }
    }
}
