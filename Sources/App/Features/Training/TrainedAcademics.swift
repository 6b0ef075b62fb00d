import Fluent
import FluentSQL
import Vapor

/// The list the project reports: trained and re-trained academics, filtered by institution, country, area, event kind
/// and year, with counts per institution and per country; the same filters serve the page, the CSV and the API.
struct TrainedAcademicsFilter: Equatable, Sendable {
    var institutionID: UUID?
    var country: String?
    var area: String?
    var kind: String?
    var year: Int?
    /// nil: everyone; true: only re-trained; false: only first trainings.
    var retrained: Bool?

    init(institutionID: UUID? = nil, country: String? = nil, area: String? = nil, kind: String? = nil, year: Int? = nil, retrained: Bool? = nil) {
        self.institutionID = institutionID
        self.country = country
        self.area = area
        self.kind = kind
        self.year = year
        self.retrained = retrained
    }

    /// From a query string; unknown values are dropped rather than refused, so a shared link never breaks.
    init(query: URLQueryContainer) {
        func value(_ key: String) -> String? {
            guard let text = try? query.get(String.self, at: key) else { return nil }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : trimmed
        }
        institutionID = value("institution").flatMap(UUID.init(uuidString:))
        country = value("country").map { $0.uppercased() }.flatMap { $0.count == 2 && $0.allSatisfy(\.isLetter) ? $0 : nil }
        area = value("area").flatMap { $0.count <= 4 && $0.first == "A" && $0.dropFirst().allSatisfy(\.isNumber) ? $0 : nil }
        kind = value("kind").flatMap { TrainingEvent.Kind(rawValue: $0)?.rawValue }
        year = value("year").flatMap(Int.init).flatMap { (2000...2100).contains($0) ? $0 : nil }
        retrained = value("retrained").flatMap { $0 == "yes" ? true : $0 == "no" ? false : nil }
    }

    var queryString: String {
        var parts: [String] = []
        if let institutionID { parts.append("institution=\(institutionID.uuidString)") }
        if let country { parts.append("country=\(country)") }
        if let area { parts.append("area=\(area)") }
        if let kind { parts.append("kind=\(kind)") }
        if let year { parts.append("year=\(year)") }
        if let retrained { parts.append("retrained=\(retrained ? "yes" : "no")") }
        return parts.joined(separator: "&")
    }
}

struct TrainedAcademics {
    let db: any Database

    struct Row: Sendable {
        var completionID: UUID
        var userID: UUID
        var name: String
        var institutionID: UUID?
        var country: String
        var eventID: UUID
        var eventTitle: String
        var kind: String
        var areas: [String]
        var year: Int
        var hours: Double
        var retrained: Bool
        var completedAt: Date
        var certificateCode: String?
    }

    struct Count: Sendable {
        var key: String
        var people: Int
        var completions: Int
        var retrained: Int
    }

    struct Page: Sendable {
        var total: Int
        var people: Int
        var retrainedPeople: Int
        var rows: [Row]
        var perInstitution: [Count]
        var perCountry: [Count]
    }

    private func conditions(_ filter: TrainedAcademicsFilter) -> SQLQueryString {
        var sql: SQLQueryString = "1 = 1"
        if let id = filter.institutionID { sql = sql + " AND c.institution_id = \(bind: id)" }
        if let country = filter.country { sql = sql + " AND c.country_code = \(bind: country)" }
        if let area = filter.area { sql = sql + " AND c.areas LIKE \(bind: "% \(area) %")" }
        if let kind = filter.kind { sql = sql + " AND c.event_kind = \(bind: kind)" }
        if let year = filter.year { sql = sql + " AND c.year = \(bind: year)" }
        if let retrained = filter.retrained { sql = sql + " AND c.retrained = \(bind: retrained)" }
        return sql
    }

    struct ListRow: Decodable {
        var id: UUID
        var user_id: UUID
        var name: String
        var institution_id: UUID?
        var country_code: String
        var event_id: UUID
        var title: String
        var event_kind: String
        var areas: String
        var year: Int
        var hours: Double
        var retrained: Bool
        var completed_at: Date
        var code: String?
    }

    /// The counts from `trained_people` (one row per person and institution) for filters it can answer:
    /// institution, country and re-trained.
    func summaryGroups(_ filter: TrainedAcademicsFilter, _ sql: any SQLDatabase) async throws -> [GroupRow] {
        struct SummaryRow: Decodable { var institution_key: String; var country_code: String; var people: Int; var completions: Int; var retrained: Int }
        var conditions: SQLQueryString = "1 = 1"
        if let id = filter.institutionID { conditions = conditions + " AND t.institution_key = \(bind: id.uuidString)" }
        if let country = filter.country { conditions = conditions + " AND t.country_code = \(bind: country)" }
        // Re-trained only: people with a re-training, their re-trainings. First trainings only: the others.
        let (peopleWhen, completions, retrained): (SQLQueryString, SQLQueryString, SQLQueryString)
        switch filter.retrained {
        case true?: (peopleWhen, completions, retrained) = ("t.retrained > 0", "t.retrained", "CASE WHEN t.retrained > 0 THEN 1 ELSE 0 END")
        case false?: (peopleWhen, completions, retrained) = ("t.completions > t.retrained", "t.completions - t.retrained", "0")
        case nil: (peopleWhen, completions, retrained) = ("1 = 1", "t.completions", "CASE WHEN t.retrained > 0 THEN 1 ELSE 0 END")
        }
        return try await sql.raw("""
            SELECT t.institution_key, t.country_code, CAST(SUM(CASE WHEN \(peopleWhen) THEN 1 ELSE 0 END) AS BIGINT) AS people,
                   CAST(SUM(\(completions)) AS BIGINT) AS completions, CAST(SUM(\(retrained)) AS BIGINT) AS retrained
            FROM trained_people t WHERE \(conditions) GROUP BY t.institution_key, t.country_code
            """).all(decoding: SummaryRow.self)
            .filter { $0.people > 0 }
            .map { GroupRow(institution_id: UUID(uuidString: $0.institution_key), country_code: $0.country_code, people: $0.people,
                            completions: $0.completions, retrained: $0.retrained) }
    }

    /// Adds a new completion to `trained_people` (in the completion's transaction).
    func count(_ completion: TrainingCompletion) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        let retrained = completion.retrained ? 1 : 0
        try await sql.raw("""
            INSERT INTO trained_people (id, user_id, institution_key, country_code, completions, retrained)
            VALUES (\(bind: UUID()), \(bind: completion.$user.id), \(bind: completion.institutionID?.uuidString ?? ""), \(bind: completion.countryCode), 1, \(bind: retrained))
            ON CONFLICT (user_id, institution_key, country_code)
            DO UPDATE SET completions = trained_people.completions + 1, retrained = trained_people.retrained + \(bind: retrained)
            """).run()
    }

    struct GroupRow: Decodable {
        var institution_id: UUID?
        var country_code: String
        var people: Int
        var completions: Int
        var retrained: Int
    }

    /// One page of completions, newest first, with the totals and the counts per institution and country.
    /// The counts come from one grouped pass (people per institution, summed for countries and the total: a person
    /// counts at the institution of each completion); the page itself reads only its rows.
    /// `summary: false` always scans the completions (tests compare the two ways).
    func page(_ filter: TrainedAcademicsFilter, limit: Int, offset: Int, withCounts: Bool = true, summary: Bool = true) async throws -> Page {
        guard let sql = db as? any SQLDatabase else { throw Abort(.internalServerError) }
        let whereClause = conditions(filter)
        // The page first on the completions alone (their indexes give the order), then the 50 rows' names.
        let rows = try await sql.raw("""
            SELECT c.id, c.user_id, u.name, c.institution_id, c.country_code, c.event_id, e.title, c.event_kind, c.areas, c.year,
                   c.hours, c.retrained, c.completed_at, ce.code
            FROM (SELECT c.id FROM training_completions c WHERE \(whereClause)
                  ORDER BY c.completed_at DESC, c.id LIMIT \(unsafeRaw: String(limit)) OFFSET \(unsafeRaw: String(offset))) p
            JOIN training_completions c ON c.id = p.id JOIN users u ON u.id = c.user_id JOIN training_events e ON e.id = c.event_id
            LEFT JOIN certificates ce ON ce.completion_id = c.id
            ORDER BY c.completed_at DESC, c.id
            """).all(decoding: ListRow.self)
        var total = 0, people = 0, retrainedPeople = 0
        var perInstitution: [Count] = [], perCountry: [Count] = []
        if withCounts {
            let groups: [GroupRow]
            if summary && filter.area == nil && filter.kind == nil && filter.year == nil {
                groups = try await summaryGroups(filter, sql)
            } else {
                groups = try await sql.raw("""
                    SELECT g.institution_id, g.country_code, COUNT(*) AS people, CAST(SUM(g.n) AS BIGINT) AS completions, CAST(SUM(g.r) AS BIGINT) AS retrained
                    FROM (SELECT c.institution_id, c.country_code, c.user_id, COUNT(*) AS n, MAX(CASE WHEN c.retrained THEN 1 ELSE 0 END) AS r
                          FROM training_completions c WHERE \(whereClause) GROUP BY c.institution_id, c.country_code, c.user_id) g
                    GROUP BY g.institution_id, g.country_code
                    """).all(decoding: GroupRow.self)
            }
            total = groups.reduce(0) { $0 + $1.completions }
            people = groups.reduce(0) { $0 + $1.people }
            retrainedPeople = groups.reduce(0) { $0 + $1.retrained }
            perInstitution = groups.map { Count(key: $0.institution_id?.uuidString ?? "", people: $0.people, completions: $0.completions, retrained: $0.retrained) }
                .sorted { ($0.people, $1.key) > ($1.people, $0.key) }
            var countries: [String: Count] = [:]
            for group in groups {
                var count = countries[group.country_code] ?? Count(key: group.country_code, people: 0, completions: 0, retrained: 0)
                count.people += group.people
                count.completions += group.completions
                count.retrained += group.retrained
                countries[group.country_code] = count
            }
            perCountry = countries.values.sorted { ($0.people, $1.key) > ($1.people, $0.key) }
        } else {
            total = offset + rows.count
        }
        return Page(total: total, people: people, retrainedPeople: retrainedPeople, rows: rows.map {
            Row(completionID: $0.id, userID: $0.user_id, name: $0.name, institutionID: $0.institution_id, country: $0.country_code,
                eventID: $0.event_id, eventTitle: $0.title, kind: $0.event_kind, areas: $0.areas.split(separator: " ").map(String.init),
                year: $0.year, hours: $0.hours, retrained: $0.retrained, completedAt: $0.completed_at, certificateCode: $0.code)
        }, perInstitution: perInstitution, perCountry: perCountry)
    }
}

/// The page and the CSV (coordinators see the list of their part of the network; the counts are what they report).
struct TrainedAcademicsRoutes: RouteCollection {
    static let pageSize = 50

    func boot(routes: any RoutesBuilder) throws {
        let signedIn = routes.grouped(User.redirectMiddleware(path: "/signin"))
        signedIn.get("trained-academics", use: index)
        signedIn.get("trained-academics.csv", use: csv)
    }

    /// Coordinators (and above) see the list, narrowed to what they coordinate: an institutional coordinator sees
    /// their institutions, a national coordinator their countries.
    static func scoped(_ filter: TrainedAcademicsFilter, _ actor: Actor, on db: any Database) async throws -> TrainedAcademicsFilter {
        guard actor.isCoordinator else { throw Forbidden() }
        if actor.isAdmin || actor.isRegionalCoordinator { return filter }
        var scoped = filter
        let countries = actor.coordinatedCountries
        let institutions = actor.coordinatedInstitutions
        if let id = filter.institutionID {
            let institution = try await Institution.find(id, on: db)
            guard institutions.contains(id) || (institution.map { countries.contains($0.countryCode) } ?? false) else { throw Forbidden() }
        } else if let country = filter.country {
            if !countries.contains(country) {
                guard let first = institutions.first else { throw Forbidden() }
                scoped.institutionID = first
            }
        } else if let country = countries.first {
            scoped.country = country
        } else if let first = institutions.first {
            scoped.institutionID = first
        }
        return scoped
    }

    struct IndexView: Encodable {
        struct Row: Encodable {
            var name: String
            var institution: String
            var country: String
            var event: String
            var eventHref: String
            var kind: String
            var areas: String
            var year: Int
            var retrained: Bool
            var certificateHref: String?
        }
        struct CountRow: Encodable { var label: String; var people: Int; var completions: Int; var retrained: Int }
        var rows: [Row]
        var total: Int
        var people: Int
        var retrainedPeople: Int
        var perInstitution: [CountRow]
        var perCountry: [CountRow]
        var institutions: [Choice]
        var countries: [Choice]
        var areas: [Choice]
        var kinds: [Choice]
        var years: [Choice]
        var retrained: [Choice]
        var csvHref: String
        var previous: String?
        var next: String?
        var pageLabel: String
    }

    func index(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let filter = try await Self.scoped(TrainedAcademicsFilter(query: req.query), actor, on: req.db)
        let pageNumber = max(1, (try? req.query.get(Int.self, at: "page")) ?? 1)
        let result = try await TrainedAcademics(db: req.db).page(filter, limit: Self.pageSize, offset: (pageNumber - 1) * Self.pageSize)
        let institutions = try await Institution.query(on: req.db).all()
        let countries = try await Country.query(on: req.db).all()
        let areas = try await Area.query(on: req.db).sort(\.$position).all()
        func institutionName(_ id: UUID?) -> String { institutions.first { $0.id == id }.map { localized($0.names, req.locale) } ?? "" }
        func countryName(_ code: String) -> String { countries.first { $0.code == code }.map { localized($0.names, req.locale) } ?? code }
        let query = filter.queryString
        let pages = max(1, (result.total + Self.pageSize - 1) / Self.pageSize)
        let currentYear = Calendar(identifier: .gregorian).component(.year, from: Date())
        return try await req.page("training/trained", titleKey: "training.trained_title", IndexView(
            rows: result.rows.map {
                .init(name: $0.name, institution: institutionName($0.institutionID), country: countryName($0.country), event: $0.eventTitle,
                      eventHref: "/events/\($0.eventID.uuidString)", kind: req.t("training.kind.\($0.kind)"), areas: $0.areas.joined(separator: ", "),
                      year: $0.year, retrained: $0.retrained, certificateHref: $0.certificateCode.map { "/certificates/\($0)" })
            },
            total: result.total, people: result.people, retrainedPeople: result.retrainedPeople,
            perInstitution: result.perInstitution.map { .init(label: institutionName(UUID(uuidString: $0.key)), people: $0.people, completions: $0.completions, retrained: $0.retrained) },
            perCountry: result.perCountry.map { .init(label: countryName($0.key), people: $0.people, completions: $0.completions, retrained: $0.retrained) },
            institutions: [Choice(value: "", label: req.t("training.filter_all"), selected: filter.institutionID == nil)]
                + institutions.sorted { $0.shortName < $1.shortName }.map { Choice(value: $0.id!.uuidString, label: localized($0.names, req.locale), selected: $0.id == filter.institutionID) },
            countries: [Choice(value: "", label: req.t("training.filter_all"), selected: filter.country == nil)]
                + countries.sorted { $0.code < $1.code }.map { Choice(value: $0.code, label: localized($0.names, req.locale), selected: $0.code == filter.country) },
            areas: [Choice(value: "", label: req.t("training.filter_all"), selected: filter.area == nil)]
                + areas.map { Choice(value: $0.code, label: "\($0.code) · \(localized($0.names, req.locale))", selected: $0.code == filter.area) },
            kinds: [Choice(value: "", label: req.t("training.filter_all"), selected: filter.kind == nil)]
                + TrainingEvent.Kind.allCases.map { Choice(value: $0.rawValue, label: req.t($0.catalogKey), selected: $0.rawValue == filter.kind) },
            years: [Choice(value: "", label: req.t("training.filter_all"), selected: filter.year == nil)]
                + (2020...(currentYear + 1)).reversed().map { Choice(value: String($0), label: String($0), selected: $0 == filter.year) },
            retrained: [Choice(value: "", label: req.t("training.filter_all"), selected: filter.retrained == nil),
                        Choice(value: "yes", label: req.t("training.retrained_only"), selected: filter.retrained == true),
                        Choice(value: "no", label: req.t("training.first_only"), selected: filter.retrained == false)],
            csvHref: "/trained-academics.csv" + (query.isEmpty ? "" : "?" + query),
            previous: pageNumber > 1 ? "/trained-academics?" + query + (query.isEmpty ? "" : "&") + "page=\(pageNumber - 1)" : nil,
            next: pageNumber < pages ? "/trained-academics?" + query + (query.isEmpty ? "" : "&") + "page=\(pageNumber + 1)" : nil,
            pageLabel: req.t("training.page_of", String(pageNumber), String(pages))))
    }

    func csv(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let filter = try await Self.scoped(TrainedAcademicsFilter(query: req.query), actor, on: req.db)
        let institutions = try await Institution.query(on: req.db).all()
        var writer = CSVWriter(header: ["name", "institution", "country", "event", "event_kind", "areas", "year", "hours", "retrained",
                                        "completed_at", "certificate_url"])
        var offset = 0
        let base = req.application.config.baseURL
        while true {
            let page = try await TrainedAcademics(db: req.db).page(filter, limit: 1000, offset: offset, withCounts: false)
            for row in page.rows {
                writer.append([row.name, institutions.first { $0.id == row.institutionID }?.shortName ?? "", row.country, row.eventTitle, row.kind,
                               row.areas.joined(separator: " "), String(row.year), CSVWriter.number(row.hours, digits: 1), row.retrained ? "yes" : "no",
                               OpenBadges.iso8601(row.completedAt), row.certificateCode.map { "\(base)/verify/\($0)" } ?? ""])
            }
            if page.rows.count < 1000 { break }
            offset += 1000
        }
        return writer.response(filename: "trained-academics.csv", bom: true)
    }
}
