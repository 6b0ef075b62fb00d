import Fluent
import FluentSQL
import Vapor

/// Campaigns: who may run them, the state machine, invitations and the anonymous responses.
/// Takes a database and collaborators, never a `Request`.
struct CampaignService {
    let db: any Database
    let mailer: any Mailer
    let catalog: Catalog
    let baseURL: String
    let audit: AuditContext
    var now: @Sendable () -> Date = { Date() }

    // MARK: authorization

    /// Only the coordinator of the campaign's scope (or someone above covering it) runs a campaign.
    static func canRun(_ actor: Actor, scope: Campaign.Scope, scopeID: String, institutionPlace: InstitutionPlace?) -> Bool {
        switch scope {
        case .institution: institutionPlace.map(actor.canManage) ?? false
        case .country: actor.canManageCountry(scopeID)
        case .region: actor.isAdmin || actor.isRegionalCoordinator
        }
    }

    func place(of campaign: Campaign) async throws -> InstitutionPlace? {
        guard campaign.scope == .institution, let id = UUID(uuidString: campaign.scopeID) else { return nil }
        return try await Institution.find(id, on: db)?.place
    }

    func requireRun(_ campaign: Campaign, by actor: Actor) async throws {
        guard Self.canRun(actor, scope: campaign.scope, scopeID: campaign.scopeID, institutionPlace: try await place(of: campaign)) else {
            throw Forbidden()
        }
    }

    /// Campaigns the actor runs.
    func campaigns(for actor: Actor) async throws -> [Campaign] {
        var visible: [Campaign] = []
        for campaign in try await Campaign.query(on: db).sort(\.$createdAt, .descending).all() {
            if Self.canRun(actor, scope: campaign.scope, scopeID: campaign.scopeID, institutionPlace: try await place(of: campaign)) {
                visible.append(campaign)
            }
        }
        return visible
    }

    // MARK: creating

    struct Draft {
        var title: String
        var instrumentID: UUID?
        var scope: String
        var scopeID: String
        var targetInstitutions: [UUID]
        var groups: [String]
        var opensOn: String
        var closesOn: String
        var minimumGroupSize: String
    }

    static func parseDay(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.date(from: text.trimmingCharacters(in: .whitespaces))
    }

    static func day(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: date)
    }

    /// The institutions a campaign of this scope may target.
    func eligibleInstitutions(scope: Campaign.Scope, scopeID: String) async throws -> [Institution] {
        let all = try await Institution.query(on: db).all()
        switch scope {
        case .institution:
            return all.filter { $0.id?.uuidString == scopeID }
        case .country:
            return all.filter { $0.countryCode == scopeID }
        case .region:
            let countries = Set(try await Country.query(on: db).filter(\.$regionCode == scopeID).all().map(\.code))
            return all.filter { countries.contains($0.countryCode) }
        }
    }

    func create(_ draft: Draft, by actor: Actor) async throws -> Campaign {
        var errors: [(String, String)] = []
        let title = draft.title.trimmingCharacters(in: .whitespacesAndNewlines)
        if title.isEmpty || title.count > 200 { errors.append(("title", "validation.title_required")) }
        let instrument = try await draft.instrumentID.asyncMap { try await Instrument.find($0, on: db) } ?? nil
        if instrument == nil { errors.append(("instrument_id", "validation.instrument_required")) }
        let scope = Campaign.Scope(rawValue: draft.scope)
        if scope == nil { errors.append(("scope", "validation.kind_required")) }
        var place: InstitutionPlace?
        if scope == .institution, let id = UUID(uuidString: draft.scopeID) { place = try await Institution.find(id, on: db)?.place }
        if let scope, !Self.canRun(actor, scope: scope, scopeID: draft.scopeID, institutionPlace: place) { throw Forbidden() }
        let eligible = try await scope.asyncMap { try await eligibleInstitutions(scope: $0, scopeID: draft.scopeID) } ?? []
        var targets = draft.targetInstitutions.filter { id in eligible.contains { $0.id == id } }
        if scope == .institution { targets = eligible.compactMap(\.id) }
        if targets.isEmpty { errors.append(("target_institutions", "validation.targets_required")) }
        let groups = draft.groups.filter { InstrumentDefinition.stakeholderGroups.contains($0) }
        if groups.isEmpty { errors.append(("groups", "validation.groups_required")) }
        let opens = Self.parseDay(draft.opensOn), closes = Self.parseDay(draft.closesOn)
        if opens == nil { errors.append(("opens_on", "validation.date")) }
        if closes == nil { errors.append(("closes_on", "validation.date")) }
        if let opens, let closes, closes < opens { errors.append(("closes_on", "validation.window")) }
        let minimum = Int(draft.minimumGroupSize.trimmingCharacters(in: .whitespaces)) ?? -1
        if minimum < 1 || minimum > 1000 { errors.append(("minimum_group_size", "validation.minimum_group_size")) }
        guard errors.isEmpty, let instrument, let scope, let opens, let closes else { throw FieldErrors(errors) }

        let campaign = Campaign()
        campaign.title = title
        campaign.$instrument.id = try instrument.requireID()
        campaign.scope = scope
        campaign.scopeID = draft.scopeID
        campaign.targetInstitutions = targets
        campaign.groups = groups
        campaign.opensOn = opens
        campaign.closesOn = closes
        campaign.minimumGroupSize = minimum
        campaign.state = .draft
        campaign.createdByID = actor.userID
        campaign.feasibility = [:]
        campaign.strategicAreas = []
        try await campaign.create(on: db)
        return campaign
    }

    // MARK: the state machine

    enum Transition: String, CaseIterable {
        case open, close, analyse, validate, publish
    }

    /// Which transition leads from which states (DESIGN.md 3.1: draft → open → closed → analysed → validated → published).
    /// Analysing again is allowed until the list is validated (after changing feasibility or strategic flags).
    static let allowed: [Transition: [Campaign.State]] = [
        .open: [.draft],
        .close: [.open],
        .analyse: [.closed, .analysed],
        .validate: [.analysed],
        .publish: [.validated],
    ]

    static func target(of transition: Transition) -> Campaign.State {
        switch transition {
        case .open: .open
        case .close: .closed
        case .analyse: .analysed
        case .validate: .validated
        case .publish: .published
        }
    }

    func requireTransition(_ transition: Transition, _ campaign: Campaign) throws {
        guard Self.allowed[transition]?.contains(campaign.state) == true else {
            throw FieldErrors([("state", "campaign.error.transition")])
        }
    }

    func open(_ campaign: Campaign, by actor: Actor) async throws {
        try await requireRun(campaign, by: actor)
        try requireTransition(.open, campaign)
        try await db.transaction { db in
            if let instrument = try await Instrument.find(campaign.$instrument.id, on: db), !instrument.frozen {
                instrument.frozen = true
                try await instrument.save(on: db)
            }
            campaign.state = .open
            try await campaign.save(on: db)
        }
    }

    func close(_ campaign: Campaign, by actor: Actor) async throws {
        try await requireRun(campaign, by: actor)
        try requireTransition(.close, campaign)
        campaign.state = .closed
        try await campaign.save(on: db)
    }

    /// Whether respondents may answer now.
    func isAccepting(_ campaign: Campaign) -> Bool {
        guard campaign.state == .open else { return false }
        let today = Self.day(now())
        return Self.day(campaign.opensOn) <= today && today <= Self.day(campaign.closesOn)
    }
}

extension Request {
    var campaigns: CampaignService {
        CampaignService(db: db, mailer: application.mailer, catalog: application.catalog, baseURL: config.baseURL, audit: auditContext)
    }
}
