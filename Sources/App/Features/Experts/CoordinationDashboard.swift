import Fluent
import Vapor

/// The part of the network a coordinator's dashboard covers: one institution, one country, or the whole region.
enum DashboardScope: Hashable, Sendable {
    case region
    case country(String)
    case institution(UUID)

    /// The value in `?scope=`: `region`, `country:AL`, `institution:<uuid>`.
    var value: String {
        switch self {
        case .region: "region"
        case .country(let code): "country:\(code)"
        case .institution(let id): "institution:\(id.uuidString)"
        }
    }

    init?(value: String) {
        if value == "region" { self = .region; return }
        let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "country" where parts[1].count == 2: self = .country(parts[1].uppercased())
        case "institution": guard let id = UUID(uuidString: parts[1]) else { return nil }; self = .institution(id)
        default: return nil
        }
    }

    /// The level of the escalation ladder this scope coordinates (1 institution, 2 country, 3 region).
    var level: Int {
        switch self {
        case .institution: 1
        case .country: 2
        case .region: 3
        }
    }
}

/// What a coordinator needs to see at a glance (issue 5, part 10): the queue by state and level, the requests past
/// their service level, the demand nobody has taken up yet per IaH area (which feeds the next campaign), and how
/// loaded the experts are. `build` is a pure function of the rows, so its figures are tested with worked examples.
enum CoordinationDashboard {
    /// The states counted in the queue (drafts are private to their author).
    static let queueStates: [RfKState] = [.submitted, .needsInfo, .matching, .offered, .accepted, .planned, .delivered, .evaluated,
                                          .closed, .rejected, .withdrawn, .resolvedByExisting]
    /// States in which nobody has taken the request up yet: the unmatched demand.
    static let unmatchedStates: Set<RfKState> = [.submitted, .needsInfo, .matching, .offered]
    /// States in which an accepted expert is working on the request.
    static let assignedStates: Set<RfKState> = [.accepted, .planned]
    /// States in which the expert has delivered.
    static let deliveredStates: Set<RfKState> = [.delivered, .evaluated, .closed]

    struct QueueRow: Equatable, Sendable {
        var state: RfKState
        /// Requests in this state at levels 1 (institution), 2 (country), 3 (region), 4 (open listing).
        var byLevel: [Int]
        var total: Int { byLevel.reduce(0, +) }
    }

    enum BreachKind: String, Equatable, Sendable {
        /// Submitted and not triaged within the triage working days.
        case triage
        /// In matching with no accepted offer within the matching working days (at the open listing: still waiting).
        case matching
        /// An offer past its expiry that the sweep has not passed on yet.
        case offer
    }

    struct Breach: Equatable, Sendable {
        var requestID: UUID
        var kind: BreachKind
        var level: Int
        /// Working days the request has waited at its level (for `offer`: since the offer expired).
        var waited: Int
        /// The service level in working days (0 for `offer`).
        var allowed: Int
    }

    struct Lapse: Equatable, Sendable {
        var requestID: UUID
        /// The level whose time ran out.
        var fromLevel: Int
        var at: Date
    }

    struct AreaDemand: Equatable, Sendable {
        var area: String
        /// Open requests with nobody taking them up yet that ask for this area.
        var requests: Int
        /// Of these, how many have left their institution (level 2 and above).
        var escalated: Int
        /// Of these, how many are at the open listing.
        var openListing: Int
        /// Active experts of the scope with this area at proficiency 2 or more: the supply next to the demand.
        var experts: Int
    }

    struct ExpertLoad: Equatable, Sendable {
        var expertID: UUID
        var status: ExpertProfile.Status
        var level: NetworkLevel
        var capacity: Int
        /// Accepted or planned requests.
        var active: Int
        var openOffers: Int
        var delivered: Int
        var ratingCount: Int
        /// Mean rating 1–5, nil before the first evaluation.
        var meanRating: Double?
        var atCapacity: Bool { active >= capacity }
        /// Active work as a share of capacity (1 = full).
        var load: Double { capacity > 0 ? Double(active) / Double(capacity) : (active > 0 ? 1 : 0) }
    }

    struct Report: Equatable, Sendable {
        var queue: [QueueRow]
        var breaches: [Breach]
        var lapses: [Lapse]
        var demand: [AreaDemand]
        var experts: [ExpertLoad]
    }

    struct RequestRow: Sendable {
        var id: UUID
        var state: RfKState
        var level: Int
        var levelSince: Date
        var areas: [String]
    }

    struct OfferRow: Sendable {
        var requestID: UUID
        var expertID: UUID
        var state: RequestOffer.State
        var expiresAt: Date
    }

    struct ExpertRow: Sendable {
        var id: UUID
        var status: ExpertProfile.Status
        var level: NetworkLevel
        var capacity: Int
        var ratingSum: Int
        var ratingCount: Int
        /// Area → proficiency 1–4.
        var competencies: [String: Int]
    }

    /// Working days (Monday to Friday) from `start` to `end`, counted as the sweep counts them: the number of
    /// working days one can step back a whole day from `end` without passing `start` (Monday 9:00 to the next Monday
    /// 9:00 is five; `waited ≥ n` holds from the moment the sweep's cutoff of `n` days reaches `start`).
    static func workingDays(from start: Date, to end: Date) -> Int {
        guard end > start else { return 0 }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Belgrade") ?? .current
        var cursor = end
        var days = 0
        while true {
            guard let previous = calendar.date(byAdding: .day, value: -1, to: cursor), previous >= start else { return days }
            cursor = previous
            let weekday = calendar.component(.weekday, from: cursor)
            if weekday != 1 && weekday != 7 { days += 1 }
            if days > 10_000 { return days }
        }
    }

    /// The figures of one scope. `requests` and `experts` are the scope's; `offers` are those of its requests and of
    /// its experts; `elsewhere` gives the states of requests from outside the scope that its experts work on (they
    /// count for the load only); `lapses` are the escalations the sweep recorded because a level's time ran out.
    static func build(requests: [RequestRow], elsewhere: [UUID: RfKState] = [:], offers: [OfferRow], experts: [ExpertRow],
                      lapses: [Lapse], settings: CoordinationSettings, now: Date) -> Report {
        // Queue: states × levels.
        var counts: [RfKState: [Int]] = [:]
        for request in requests where request.state != .draft {
            let column = min(max(request.level, 1), 4) - 1
            counts[request.state, default: [0, 0, 0, 0]][column] += 1
        }
        let queue = queueStates.map { QueueRow(state: $0, byLevel: counts[$0] ?? [0, 0, 0, 0]) }

        // Breaches: requests past the service level of their level, offers past expiry.
        var breaches: [Breach] = []
        for request in requests {
            let waited = workingDays(from: request.levelSince, to: now)
            switch request.state {
            case .submitted where waited >= settings.triageWorkingDays:
                breaches.append(Breach(requestID: request.id, kind: .triage, level: request.level, waited: waited, allowed: settings.triageWorkingDays))
            case .matching where waited >= settings.matchingWorkingDays:
                breaches.append(Breach(requestID: request.id, kind: .matching, level: request.level, waited: waited, allowed: settings.matchingWorkingDays))
            default: break
            }
        }
        let byID = Dictionary(requests.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for offer in offers where offer.state == .open && offer.expiresAt <= now {
            guard let request = byID[offer.requestID], request.state == .offered else { continue }
            breaches.append(Breach(requestID: request.id, kind: .offer, level: request.level,
                                   waited: workingDays(from: offer.expiresAt, to: now), allowed: 0))
        }
        breaches.sort { ($0.waited - $0.allowed, $0.requestID.uuidString) > ($1.waited - $1.allowed, $1.requestID.uuidString) }

        // Unmatched demand per area, next to the supply of experts.
        var demand: [String: AreaDemand] = [:]
        for request in requests where unmatchedStates.contains(request.state) {
            for area in Set(request.areas) {
                var row = demand[area] ?? AreaDemand(area: area, requests: 0, escalated: 0, openListing: 0, experts: 0)
                row.requests += 1
                if request.level >= 2 { row.escalated += 1 }
                if request.level >= 4 { row.openListing += 1 }
                demand[area] = row
            }
        }
        for expert in experts where expert.status == .active {
            for (area, proficiency) in expert.competencies where proficiency >= 2 {
                demand[area]?.experts += 1
            }
        }
        let demandRows = demand.values.sorted {
            ($0.requests, $0.escalated, -$0.experts) != ($1.requests, $1.escalated, -$1.experts)
                ? ($0.requests, $0.escalated, -$0.experts) > ($1.requests, $1.escalated, -$1.experts)
                : $0.area.compare($1.area, options: .numeric) == .orderedAscending
        }

        // Expert load.
        let states = elsewhere.merging(requests.map { ($0.id, $0.state) }, uniquingKeysWith: { _, b in b })
        let loads = experts.map { expert -> ExpertLoad in
            let mine = offers.filter { $0.expertID == expert.id }
            let accepted = mine.filter { $0.state == .accepted }.compactMap { states[$0.requestID] }
            return ExpertLoad(
                expertID: expert.id, status: expert.status, level: expert.level, capacity: expert.capacity,
                active: accepted.filter(assignedStates.contains).count,
                openOffers: mine.filter { $0.state == .open && $0.expiresAt > now }.count,
                delivered: accepted.filter(deliveredStates.contains).count,
                ratingCount: expert.ratingCount,
                meanRating: expert.ratingCount > 0 ? Double(expert.ratingSum) / Double(expert.ratingCount) : nil)
        }.sorted { ($0.load, $0.active, $0.openOffers) > ($1.load, $1.active, $1.openOffers) }

        return Report(queue: queue, breaches: breaches, lapses: lapses.sorted { $0.at > $1.at }, demand: demandRows, experts: loads)
    }
}

/// Loads the rows of a scope from the database and builds the report.
struct CoordinationDashboardService {
    let db: any Database
    var now: @Sendable () -> Date = { Date() }

    /// The scopes this person coordinates, broadest first.
    func scopes(for actor: Actor) async throws -> [DashboardScope] {
        var scopes: [DashboardScope] = []
        let institutions = try await Institution.query(on: db).sort(\.$shortName).all()
        if actor.isAdmin || actor.isRegionalCoordinator {
            scopes.append(.region)
            let countries = Set(institutions.map(\.countryCode)).sorted()
            scopes += countries.map(DashboardScope.country)
        } else {
            scopes += actor.coordinatedCountries.sorted().map(DashboardScope.country)
        }
        for institution in institutions {
            if let place = institution.place, actor.canManage(place), let id = institution.id { scopes.append(.institution(id)) }
        }
        return scopes
    }

    /// The institutions a scope covers.
    func institutions(in scope: DashboardScope) async throws -> [Institution] {
        switch scope {
        case .region: try await Institution.query(on: db).all()
        case .country(let code): try await Institution.query(on: db).filter(\.$countryCode == code).all()
        case .institution(let id): try await Institution.query(on: db).filter(\.$id == id).all()
        }
    }

    struct Loaded {
        var report: CoordinationDashboard.Report
        var requests: [UUID: KnowledgeRequest]
        var profiles: [UUID: ExpertProfile]
        var users: [UUID: User]
        var institutions: [UUID: Institution]
    }

    /// The report of `scope`, if `actor` coordinates it (`among`: their scopes, when the caller already has them).
    func load(_ scope: DashboardScope, for actor: Actor, among known: [DashboardScope]? = nil) async throws -> Loaded {
        var allowed = known ?? []
        if known == nil { allowed = try await scopes(for: actor) }
        guard allowed.contains(scope) else { throw Forbidden() }
        let institutions = try await institutions(in: scope)
        let ids = institutions.compactMap(\.id)
        let requests = try await KnowledgeRequest.query(on: db).filter(\.$institution.$id ~~ ids)
            .filter(\.$state != RfKState.draft.rawValue).all()
        let requestIDs = requests.compactMap(\.id)
        let profiles = try await ExpertProfile.query(on: db).filter(\.$institution.$id ~~ ids).all()
        let profileIDs = profiles.compactMap(\.id)
        // Offers of the scope's requests (breaches) and of the scope's experts (their load, wherever the request is from).
        let offers = try await RequestOffer.query(on: db).group(.or) {
            $0.filter(\.$request.$id ~~ requestIDs).filter(\.$expert.$id ~~ profileIDs)
        }.all()
        let offeredRequests = Set(offers.map(\.$request.id)).subtracting(requestIDs)
        let elsewhere = offeredRequests.isEmpty ? [] : try await KnowledgeRequest.query(on: db).filter(\.$id ~~ Array(offeredRequests)).all()
        let competencies = try await ExpertCompetency.query(on: db).filter(\.$expert.$id ~~ profileIDs).all()
        let lapseEvents = try await RequestEvent.query(on: db).filter(\.$request.$id ~~ requestIDs)
            .filter(\.$event == RfKEvent.escalate.rawValue).filter(\.$note == "rfk.history.sla-lapsed").all()
        let settings = try await CoordinationSettings.load(on: db)

        let report = CoordinationDashboard.build(
            requests: requests.map { .init(id: $0.id!, state: $0.workflowState, level: $0.level, levelSince: $0.levelSince, areas: $0.areas) },
            elsewhere: Dictionary(elsewhere.map { ($0.id!, $0.workflowState) }, uniquingKeysWith: { a, _ in a }),
            offers: offers.map { .init(requestID: $0.$request.id, expertID: $0.$expert.id, state: $0.state, expiresAt: $0.expiresAt) },
            experts: profiles.map { profile in
                .init(id: profile.id!, status: profile.status, level: profile.level, capacity: profile.capacity, ratingSum: profile.ratingSum,
                      ratingCount: profile.ratingCount,
                      competencies: Dictionary(competencies.filter { $0.$expert.id == profile.id }.map { ($0.area, $0.proficiency) }, uniquingKeysWith: max))
            },
            lapses: lapseEvents.map { .init(requestID: $0.$request.id, fromLevel: max(1, $0.level - 1), at: $0.createdAt ?? now()) },
            settings: settings, now: now())
        let users = try await User.query(on: db).filter(\.$id ~~ profiles.map(\.$user.id)).all()
        return Loaded(report: report,
                      requests: Dictionary((requests + elsewhere).map { ($0.id!, $0) }, uniquingKeysWith: { a, _ in a }),
                      profiles: Dictionary(profiles.map { ($0.id!, $0) }, uniquingKeysWith: { a, _ in a }),
                      users: Dictionary(users.map { ($0.id!, $0) }, uniquingKeysWith: { a, _ in a }),
                      institutions: Dictionary(try await Institution.query(on: db).all().map { ($0.id!, $0) }, uniquingKeysWith: { a, _ in a }))
    }
}

/// `/coordination`: the dashboard of the scope the coordinator picks, and its two tables as CSV files.
struct CoordinationDashboardRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let dashboard = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("coordination")
        dashboard.get(use: show)
        dashboard.get("demand.csv", use: demandCSV)
        dashboard.get("experts.csv", use: expertsCSV)
    }

    struct DashboardView: Encodable {
        struct QueueRow: Encodable { var state: String; var code: String; var cells: [Int]; var total: Int }
        struct BreachRow: Encodable {
            var href: String; var title: String; var kind: String; var level: String; var institution: String
            var waited: Int; var allowed: Int; var over: Int
        }
        struct LapseRow: Encodable { var href: String; var title: String; var level: String; var when: String }
        struct DemandRow: Encodable { var area: String; var name: String; var requests: Int; var escalated: Int; var openListing: Int; var experts: Int; var noSupply: Bool }
        struct ExpertRow: Encodable {
            var name: String; var institution: String; var status: String; var level: String
            var capacity: Int; var active: Int; var openOffers: Int; var delivered: Int; var rating: String; var atCapacity: Bool
        }
        var scope: String
        var scopeName: String
        var scopes: [Choice]
        var levels: [String]
        var queue: [QueueRow]
        var totals: [Int]
        var breaches: [BreachRow]
        var lapses: [LapseRow]
        var demand: [DemandRow]
        var demandChart: String
        var experts: [ExpertRow]
        var triageDays: String
        var matchingDays: String
    }

    func scopeName(_ req: Request, _ scope: DashboardScope, _ institutions: [UUID: Institution], countries: [String: String]) -> String {
        switch scope {
        case .region: req.t("dashboard.scope.region")
        case .country(let code): req.t("dashboard.scope.country", countries[code] ?? code)
        case .institution(let id): institutions[id].map { localized($0.names, req.locale) } ?? "?"
        }
    }

    /// The scope asked for, or the broadest this person coordinates.
    func resolve(_ req: Request, _ actor: Actor) async throws -> (DashboardScope, [DashboardScope]) {
        guard actor.isCoordinator else { throw Forbidden() }
        let service = CoordinationDashboardService(db: req.db)
        let scopes = try await service.scopes(for: actor)
        guard let first = scopes.first else { throw Forbidden() }
        guard let asked = req.query[String.self, at: "scope"], !asked.isEmpty else { return (first, scopes) }
        guard let scope = DashboardScope(value: asked), scopes.contains(scope) else { throw Abort(.notFound) }
        return (scope, scopes)
    }

    func show(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let (scope, scopes) = try await resolve(req, actor)
        let loaded = try await CoordinationDashboardService(db: req.db).load(scope, for: actor, among: scopes)
        let report = loaded.report
        let countries = Dictionary(try await Country.query(on: req.db).all().map { ($0.code, localized($0.names, req.locale)) }, uniquingKeysWith: { a, _ in a })
        let areas = Dictionary(try await Area.query(on: req.db).all().map { ($0.code, localized($0.names, req.locale)) }, uniquingKeysWith: { a, _ in a })
        let settings = try await CoordinationSettings.load(on: req.db)
        func title(_ id: UUID) -> String { loaded.requests[id]?.title ?? "?" }
        func institution(_ id: UUID) -> String {
            loaded.requests[id].flatMap { loaded.institutions[$0.$institution.id] }.map { localized($0.names, req.locale) } ?? ""
        }
        let queue = report.queue.map { DashboardView.QueueRow(state: req.t($0.state.catalogKey), code: $0.state.rawValue, cells: $0.byLevel, total: $0.total) }
        let totals = (0..<4).map { column in report.queue.reduce(0) { $0 + $1.byLevel[column] } }
        let demandBars = report.demand.prefix(13).map {
            Charts.Bar(code: $0.area, name: areas[$0.area] ?? $0.area, value: Double($0.requests), n: $0.experts,
                       detail: req.t("dashboard.demand.detail", String($0.escalated), String($0.experts)))
        }
        let maxDemand = Double(report.demand.map(\.requests).max() ?? 1)
        let chart = Charts.rankedBars(
            Array(demandBars),
            caption: .init(idPrefix: "demand", title: req.t("dashboard.demand.chart"),
                           description: req.t("dashboard.demand.chart-desc", report.demand.prefix(3).map(\.area).joined(separator: ", ")),
                           noDataMessage: req.t("dashboard.demand.none")),
            maxValue: max(1, maxDemand), formatValue: { req.formatNumber($0) }, formatCount: { req.t("dashboard.demand.supply", String($0)) })
        let view = DashboardView(
            scope: scope.value, scopeName: scopeName(req, scope, loaded.institutions, countries: countries),
            scopes: scopes.map { Choice(value: $0.value, label: scopeName(req, $0, loaded.institutions, countries: countries), selected: $0 == scope) },
            levels: (1...4).map { req.t("rfk.level.\($0)") },
            queue: queue, totals: totals,
            breaches: report.breaches.map {
                .init(href: "/requests/\($0.requestID.uuidString)", title: title($0.requestID), kind: req.t("dashboard.breach.\($0.kind.rawValue)"),
                      level: req.t("rfk.level.\($0.level)"), institution: institution($0.requestID), waited: $0.waited, allowed: $0.allowed,
                      over: $0.waited - $0.allowed)
            },
            lapses: report.lapses.prefix(50).map {
                .init(href: "/requests/\($0.requestID.uuidString)", title: title($0.requestID), level: req.t("rfk.level.\($0.fromLevel)"),
                      when: req.formatDate($0.at))
            },
            demand: report.demand.map {
                .init(area: $0.area, name: areas[$0.area] ?? $0.area, requests: $0.requests, escalated: $0.escalated, openListing: $0.openListing,
                      experts: $0.experts, noSupply: $0.experts == 0)
            },
            demandChart: chart,
            experts: report.experts.map { load in
                let profile = loaded.profiles[load.expertID]
                return .init(name: profile.flatMap { loaded.users[$0.$user.id] }?.name ?? "?",
                             institution: profile.flatMap { loaded.institutions[$0.$institution.id] }.map { localized($0.names, req.locale) } ?? "",
                             status: req.t("experts.status.\(load.status.rawValue)"), level: req.t("experts.level.\(load.level.rawValue)"),
                             capacity: load.capacity, active: load.active, openOffers: load.openOffers, delivered: load.delivered,
                             rating: load.meanRating.map { "\(req.formatNumber($0, fractionDigits: 1)) (\(load.ratingCount))" } ?? "–",
                             atCapacity: load.atCapacity && load.status == .active)
            },
            triageDays: String(settings.triageWorkingDays), matchingDays: String(settings.matchingWorkingDays))
        return try await req.page("coordination/dashboard", titleKey: "dashboard.title", view)
    }

    func demandCSV(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let (scope, scopes) = try await resolve(req, actor)
        let loaded = try await CoordinationDashboardService(db: req.db).load(scope, for: actor, among: scopes)
        let areas = Dictionary(try await Area.query(on: req.db).all().map { ($0.code, localized($0.names, req.locale)) }, uniquingKeysWith: { a, _ in a })
        var csv = CSVWriter(header: ["area", "area_name", "open_requests", "escalated", "open_listing", "experts"])
        for row in loaded.report.demand {
            csv.append([row.area, areas[row.area] ?? "", String(row.requests), String(row.escalated), String(row.openListing), String(row.experts)])
        }
        return csv.response(filename: "unmatched-demand-\(scope.value.replacingOccurrences(of: ":", with: "-")).csv", bom: req.query[String.self, at: "bom"] != "0")
    }

    func expertsCSV(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let (scope, scopes) = try await resolve(req, actor)
        let loaded = try await CoordinationDashboardService(db: req.db).load(scope, for: actor, among: scopes)
        var csv = CSVWriter(header: ["name", "institution", "status", "level", "capacity", "active", "open_offers", "delivered", "mean_rating", "ratings"])
        for load in loaded.report.experts {
            let profile = loaded.profiles[load.expertID]
            csv.append([profile.flatMap { loaded.users[$0.$user.id] }?.name ?? "",
                        profile.flatMap { loaded.institutions[$0.$institution.id] }?.shortName ?? "",
                        load.status.rawValue, load.level.rawValue, String(load.capacity), String(load.active), String(load.openOffers),
                        String(load.delivered), CSVWriter.number(load.meanRating, digits: 2), String(load.ratingCount)])
        }
        return csv.response(filename: "expert-load-\(scope.value.replacingOccurrences(of: ":", with: "-")).csv", bom: req.query[String.self, at: "bom"] != "0")
    }
}
