import Fluent
import Vapor

/// What a person typed in the Request for Knowledge form.
struct RequestInput: Sendable {
    var title = ""
    var gap = ""
    var outcomes = ""
    var areas: [String] = []
    var linkedPriority = ""
    var audienceRole = ""
    var audienceSize = ""
    var formats: [String] = []
    var languages: [String] = []
    var windowStart = ""
    var windowEnd = ""
    var urgency = "normal"
    var constraints = ""
    var earlierAttempts = ""
    var consentToShare = false
}

/// Rule errors of the coordination model, each with the sentence the person reads.
enum CoordinationError: Error, Equatable {
    case workflow(RfKWorkflowError)
    case offerExpired
    case offerNotOpen
    case notYourOffer
    case expertNotAvailable
    case noCandidate
    case recordNotPublished
    case notListed
    case alreadyResponded

    var catalogKey: String {
        switch self {
        case .workflow(.notAllowed): "rfk.error.not-allowed"
        case .workflow(.wrongActor): "rfk.error.wrong-actor"
        case .workflow(.reasonRequired): "rfk.error.reason"
        case .offerExpired: "rfk.error.offer-expired"
        case .offerNotOpen: "rfk.error.offer-not-open"
        case .notYourOffer: "rfk.error.not-your-offer"
        case .expertNotAvailable: "rfk.error.expert-not-available"
        case .noCandidate: "rfk.error.no-candidate"
        case .recordNotPublished: "rfk.error.record-not-published"
        case .notListed: "rfk.error.not-listed"
        case .alreadyResponded: "rfk.error.already-responded"
        }
    }
}

/// The coordination model of DESIGN.md 3.3: the request's state machine (RequestWorkflow), matching at the current
/// level, offers that expire, and the institution → country → region → open listing ladder. Every change goes through
/// `fire`, which checks the table and writes the audit trail.
struct RequestService {
    var db: any Database
    let mailer: any Mailer
    let catalog: Catalog
    let baseURL: String
    var now: @Sendable () -> Date = { Date() }

    static let formats = ["workshop", "webinar", "consultation", "mentoring", "course_review"]

    /// The same service on another connection (a transaction), so nothing inside it waits for the outer pool.
    func on(_ db: any Database) -> RequestService {
        var copy = self
        copy.db = db
        return copy
    }
    static let maxLevel = 4
    static let sweepJob = "rfk.sweep"
    /// How often the sweep runs.
    static let sweepInterval: TimeInterval = 15 * 60

    /// The background job: sweep, then schedule the next sweep.
    static func registerJobs(_ app: Application) {
        app.jobs.register(sweepJob) { job, app in
            let service = RequestService(db: app.db, mailer: app.mailer, catalog: app.catalog, baseURL: app.config.baseURL)
            let (expired, escalated) = try await service.sweep()
            if expired + escalated > 0 { app.logger.notice("request sweep: \(expired) offers expired, \(escalated) requests escalated") }
            try await JobQueue.scheduleOnce(sweepJob, runAt: Date().addingTimeInterval(sweepInterval), excluding: job.id, on: app.db)
        }
    }

    // MARK: who is who

    func place(of request: KnowledgeRequest, on db: any Database) async throws -> InstitutionPlace {
        guard let institution = try await Institution.find(request.$institution.id, on: db) else { throw Abort(.notFound) }
        return InstitutionPlace(institutionID: try institution.requireID(), countryCode: institution.countryCode)
    }

    /// Coordinates the request at its current level: the institution's coordinators (and those above them) at
    /// level 1, the national coordinator at 2, the regional coordinator at 3 and 4.
    func coordinates(_ request: KnowledgeRequest, _ actor: Actor?) async throws -> Bool {
        guard let actor else { return false }
        let place = try await place(of: request, on: db)
        switch request.level {
        case 1: return actor.canManage(place)
        case 2: return actor.canManageCountry(place.countryCode)
        default: return actor.isAdmin || actor.isRegionalCoordinator
        }
    }

    func openOffer(_ request: KnowledgeRequest, on db: any Database) async throws -> RequestOffer? {
        try await RequestOffer.query(on: db).filter(\.$request.$id == request.requireID()).filter(\.$state == .open).first()
    }

    func acceptedOffer(_ request: KnowledgeRequest, on db: any Database) async throws -> RequestOffer? {
        try await RequestOffer.query(on: db).filter(\.$request.$id == request.requireID()).filter(\.$state == .accepted).first()
    }

    /// The roles this person plays for this request (a coordinator may also be the requester).
    func roles(_ request: KnowledgeRequest, _ actor: Actor?) async throws -> Set<RfKActor> {
        guard let actor else { return [] }
        var roles: Set<RfKActor> = []
        if request.$requester.id == actor.userID { roles.insert(.requester) }
        if try await coordinates(request, actor) { roles.insert(.coordinator) }
        if let profile = try await ExpertProfile.query(on: db).filter(\.$user.$id == actor.userID).first(),
           let offer = try await RequestOffer.query(on: db).filter(\.$request.$id == request.requireID())
            .filter(\.$expert.$id == profile.requireID()).filter(\.$state ~~ [.open, .accepted]).first(), offer.id != nil {
            roles.insert(.expert)
        }
        return roles
    }

    /// Contact details of both sides show only once an offer is accepted, and only to the two sides and coordinators.
    func contactsVisible(_ request: KnowledgeRequest, to actor: Actor?) async throws -> Bool {
        guard [.accepted, .planned, .delivered, .evaluated, .closed].contains(request.workflowState) else { return false }
        return !(try await roles(request, actor)).isEmpty
    }

    /// Who may read the request at all: its requester, coordinators of its level and of its institution, experts it
    /// was offered to; at level 4 every signed-in member (anonymised unless the requester agreed to share).
    func canRead(_ request: KnowledgeRequest, _ actor: Actor?) async throws -> Bool {
        guard let actor else { return false }
        if !(try await roles(request, actor)).isEmpty { return true }
        if actor.canManage(try await place(of: request, on: db)) { return true }
        if let profile = try await ExpertProfile.query(on: db).filter(\.$user.$id == actor.userID).first(),
           try await RequestOffer.query(on: db).filter(\.$request.$id == request.requireID()).filter(\.$expert.$id == profile.requireID()).count() > 0 {
            return true
        }
        if request.level >= 4 && RequestWorkflow.openStates.contains(request.workflowState) { return true }
        // Someone who answered the open listing keeps seeing the request (and the owner's reply).
        return try await ListingResponse.query(on: db).filter(\.$request.$id == request.requireID()).filter(\.$responderID == actor.userID).count() > 0
    }

    // MARK: the state machine

    /// Checks the table, moves the request, records the event. The caller saves nothing else about the state.
    @discardableResult
    func fire(_ event: RfKEvent, on request: KnowledgeRequest, as role: RfKActor, actorID: UUID?, note: String = "",
              on db: any Database) async throws -> RfKTransition {
        let from = request.workflowState
        let row: RfKTransition
        switch RequestWorkflow.transition(from: from, event: event, by: role, reason: note) {
        case .success(let found): row = found
        case .failure(let error): throw CoordinationError.workflow(error)
        }
        request.state = row.to.rawValue
        try await request.save(on: db)
        let entry = RequestEvent()
        entry.$request.id = try request.requireID()
        entry.actorID = actorID
        entry.actorKind = role.rawValue
        entry.event = event.rawValue
        entry.fromState = from.rawValue
        entry.toState = row.to.rawValue
        entry.level = request.level
        entry.note = String(note.prefix(2000))
        try await entry.create(on: db)
        return row
    }

    /// Fires `event` for a person: picks the first of their roles the table allows (so a coordinator who is also
    /// the requester acts in the right capacity), or reports why not.
    func fire(_ event: RfKEvent, on request: KnowledgeRequest, by actor: Actor, note: String = "", on db: any Database) async throws {
        let roles = try await roles(request, actor)
        let allowed = roles.filter { RequestWorkflow.allowedEvents(in: request.workflowState, for: $0).contains(event) }
        guard let role = [RfKActor.requester, .coordinator, .expert].first(where: allowed.contains) else {
            if roles.isEmpty { throw Forbidden() }
            switch RequestWorkflow.transition(from: request.workflowState, event: event, by: roles.first!, reason: note) {
            case .failure(let error): throw CoordinationError.workflow(error)
            case .success: throw Forbidden()
            }
        }
        try await fire(event, on: request, as: role, actorID: actor.userID, note: note, on: db)
    }

    // MARK: the request document

    func validate(_ input: RequestInput) async throws -> (RequestInput, Date?, Date?, Int) {
        var errors: [(String, String)] = []
        if input.title.trimmingCharacters(in: .whitespaces).isEmpty { errors.append(("title", "rfk.error.title")) }
        if input.gap.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { errors.append(("gap", "rfk.error.gap")) }
        let areaCodes = Set(try await Area.query(on: db).all().map(\.code))
        if input.areas.isEmpty || !input.areas.allSatisfy(areaCodes.contains) { errors.append(("areas", "rfk.error.areas")) }
        if !input.formats.allSatisfy(Self.formats.contains) { errors.append(("formats", "rfk.error.formats")) }
        let size = input.audienceSize.isEmpty ? 0 : Int(input.audienceSize)
        if size == nil || size! < 0 || size! > 100_000 { errors.append(("audience_size", "rfk.error.audience-size")) }
        let start = CampaignService.parseDay(input.windowStart), end = CampaignService.parseDay(input.windowEnd)
        if !input.windowStart.isEmpty && start == nil { errors.append(("window_start", "rfk.error.date")) }
        if !input.windowEnd.isEmpty && end == nil { errors.append(("window_end", "rfk.error.date")) }
        if let start, let end, end < start { errors.append(("window_end", "rfk.error.window-order")) }
        if KnowledgeRequest.Urgency(rawValue: input.urgency) == nil { errors.append(("urgency", "rfk.error.urgency")) }
        if !errors.isEmpty { throw FieldErrors(errors) }
        return (input, start, end, size ?? 0)
    }

    func apply(_ input: RequestInput, start: Date?, end: Date?, size: Int, to request: KnowledgeRequest) {
        var input = input
        for keyPath in [\RequestInput.gap, \.outcomes, \.constraints, \.earlierAttempts] {
            input[keyPath: keyPath] = input[keyPath: keyPath].replacingOccurrences(of: "\r\n", with: "\n")
        }
        request.title = String(input.title.trimmingCharacters(in: .whitespaces).prefix(300))
        request.gap = String(input.gap.prefix(10_000))
        request.outcomes = String(input.outcomes.prefix(10_000))
        request.areas = input.areas
        request.linkedPriority = input.linkedPriority.isEmpty ? nil : input.linkedPriority
        request.audienceRole = String(input.audienceRole.prefix(300))
        request.audienceSize = size
        request.formats = input.formats
        request.languages = input.languages
        request.windowStart = start
        request.windowEnd = end
        request.urgency = KnowledgeRequest.Urgency(rawValue: input.urgency) ?? .normal
        request.constraints = String(input.constraints.prefix(5000))
        request.earlierAttempts = String(input.earlierAttempts.prefix(5000))
        request.consentToShare = input.consentToShare
    }

    /// A new draft at the person's institution.
    func create(_ input: RequestInput, by actor: Actor) async throws -> KnowledgeRequest {
        guard let home = actor.home else { throw FieldErrors([("institution", "rfk.error.institution")]) }
        let (clean, start, end, size) = try await validate(input)
        let request = KnowledgeRequest()
        request.$requester.id = actor.userID
        request.$institution.id = home.institutionID
        apply(clean, start: start, end: end, size: size, to: request)
        request.state = RfKState.draft.rawValue
        request.level = 1
        request.levelSince = now()
        try await request.create(on: db)
        return request
    }

    /// The requester edits the document while it is a draft or when the coordinator asked for more information.
    func update(_ request: KnowledgeRequest, _ input: RequestInput, by actor: Actor) async throws {
        guard request.$requester.id == actor.userID else { throw Forbidden() }
        guard [.draft, .needsInfo].contains(request.workflowState) else { throw CoordinationError.workflow(.notAllowed(state: request.workflowState, event: .provideInfo)) }
        let (clean, start, end, size) = try await validate(input)
        apply(clean, start: start, end: end, size: size, to: request)
        try await request.save(on: db)
    }

    func submit(_ request: KnowledgeRequest, by actor: Actor) async throws {
        try await db.transaction { tx in
            let s = self.on(tx)
            let event: RfKEvent = request.workflowState == .needsInfo ? .provideInfo : .submit
            try await s.fire(event, on: request, by: actor, on: tx)
            if event == .submit {
                request.submittedAt = now()
                request.levelSince = now()
                try await request.save(on: tx)
            }
        }
        try await notifyCoordinators(request, subjectKey: "rfk.mail.submitted")
    }

    // MARK: matching and offers

    /// The candidates of the request's current level: its institution's experts (1), its country's national and
    /// regional experts (2), the regional experts (3), every active expert (4). The requester and experts who already
    /// declined or let an offer expire are left out.
    func candidates(for request: KnowledgeRequest, on db: any Database) async throws -> (profiles: [UUID: ExpertProfile], candidates: [ExpertCandidate]) {
        let place = try await place(of: request, on: db)
        var query = ExpertProfile.query(on: db).filter(\.$status == .active).filter(\.$user.$id != request.$requester.id)
        switch request.level {
        case 1: query = query.filter(\.$institution.$id == place.institutionID)
        case 2:
            let inCountry = try await Institution.query(on: db).filter(\.$countryCode == place.countryCode).all().compactMap(\.id)
            query = query.filter(\.$institution.$id ~~ inCountry).filter(\.$level ~~ [.national, .regional])
        case 3: query = query.filter(\.$level == .regional)
        default: break
        }
        let profiles = try await query.all()
        let ids = profiles.compactMap(\.id)
        let previous = Set(try await RequestOffer.query(on: db).filter(\.$request.$id == request.requireID()).all().map(\.$expert.id))
        let competencies = try await ExpertCompetency.query(on: db).filter(\.$expert.$id ~~ ids).all()
        let windows = try await ExpertAvailability.query(on: db).filter(\.$expert.$id ~~ ids).all()
        let load = try await RequestOffer.query(on: db).filter(\.$expert.$id ~~ ids).filter(\.$state == .accepted).all()
        let openRequests = Set(try await KnowledgeRequest.query(on: db)
            .filter(\.$state ~~ [RfKState.accepted.rawValue, RfKState.planned.rawValue]).all().compactMap(\.id))
        let institutions = Dictionary(uniqueKeysWithValues: try await Institution.query(on: db).all().map { ($0.id!, $0) })
        let regions = Dictionary(uniqueKeysWithValues: try await Country.query(on: db).all().map { ($0.code, $0.regionCode) })
        var byID: [UUID: ExpertProfile] = [:]
        var candidates: [ExpertCandidate] = []
        for profile in profiles where !previous.contains(profile.id!) {
            let id = profile.id!
            byID[id] = profile
            let institution = institutions[profile.$institution.id]
            candidates.append(ExpertCandidate(
                id: id,
                competencies: Dictionary(competencies.filter { $0.$expert.id == id }.map { ($0.area, $0.proficiency) }, uniquingKeysWith: max),
                languages: Set(profile.languages), formats: Set(profile.formats), capacity: profile.capacity,
                activeAssignments: load.filter { $0.$expert.id == id && openRequests.contains($0.$request.id) }.count,
                availability: windows.filter { $0.$expert.id == id }.map { DateInterval(start: $0.startsOn, end: max($0.startsOn, $0.endsOn)) },
                quality: profile.quality, institutionID: profile.$institution.id, countryCode: institution?.countryCode,
                regionCode: institution.flatMap { regions[$0.countryCode] }, active: profile.status == .active))
        }
        return (byID, candidates)
    }

    func matchRequest(_ request: KnowledgeRequest, on db: any Database) async throws -> MatchRequest {
        let place = try await place(of: request, on: db)
        let region = try await Country.query(on: db).filter(\.$code == place.countryCode).first()?.regionCode
        var window: DateInterval?
        if let start = request.windowStart { window = DateInterval(start: start, end: max(start, request.windowEnd ?? start.addingTimeInterval(86400))) }
        return MatchRequest(areas: Dictionary(request.areas.map { ($0, 1.0) }, uniquingKeysWith: { a, _ in a }),
                            languages: Set(request.languages), formats: Set(request.formats), window: window,
                            institutionID: place.institutionID, countryCode: place.countryCode, regionCode: region)
    }

    /// The ranked experts of the current level, with every component (the coordinator's "why this expert").
    func ranking(_ request: KnowledgeRequest, on db: any Database) async throws -> (results: [MatchResult], profiles: [UUID: ExpertProfile], settings: CoordinationSettings) {
        let settings = try await CoordinationSettings.load(on: db)
        let (profiles, candidates) = try await candidates(for: request, on: db)
        let rotation = try await RequestOffer.query(on: db).count()
        let results = Matching.rank(candidates, for: try await matchRequest(request, on: db), weights: settings.weights, rotation: rotation)
        return (results, profiles, settings)
    }

    /// Offers the request to an expert: the coordinator's choice from the ranking (at or above the threshold), or
    /// anyone else eligible with a logged reason (override). Replaces an open offer.
    func offer(_ request: KnowledgeRequest, to expertID: UUID, reason: String, by actor: Actor) async throws {
        guard try await coordinates(request, actor) else { throw Forbidden() }
        try await db.transaction { tx in
            let s = self.on(tx)
            let (results, _, settings) = try await s.ranking(request, on: tx)
            guard let profile = try await ExpertProfile.find(expertID, on: tx), profile.status == .active else {
                throw CoordinationError.expertNotAvailable
            }
            let ranked = results.first { $0.expertID == expertID }
            let isOverride = ranked?.aboveThreshold != true
            let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
            if isOverride && trimmed.isEmpty { throw CoordinationError.workflow(.reasonRequired) }
            if request.workflowState == .offered, let open = try await s.openOffer(request, on: tx) {
                open.state = .withdrawn
                try await open.save(on: tx)
            }
            try await s.fire(isOverride ? .override : .offer, on: request, as: .coordinator, actorID: actor.userID, note: trimmed, on: tx)
            try await s.createOffer(request, profile: profile, result: ranked, settings: settings, reason: isOverride ? trimmed : nil,
                                  by: actor.userID, on: tx)
        }
    }

    private func createOffer(_ request: KnowledgeRequest, profile: ExpertProfile, result: MatchResult?, settings: CoordinationSettings,
                             reason: String?, by userID: UUID?, on db: any Database) async throws {
        let offer = RequestOffer()
        offer.$request.id = try request.requireID()
        offer.$expert.id = try profile.requireID()
        offer.state = .open
        offer.level = request.level
        offer.score = result?.score ?? 0
        offer.components = result?.components ?? MatchComponents(topic: 0, language: 0, format: 0, availability: 0, quality: 0, proximity: 0, load: 0)
        offer.expiresAt = now().addingTimeInterval(Double(settings.offerDays) * 86400)
        offer.overrideReason = reason
        offer.createdByID = userID
        try await offer.create(on: db)
        if let user = try await User.find(profile.$user.id, on: db) {
            try await mail(to: user, subjectKey: "rfk.mail.offer", request: request, on: db)
        }
    }

    /// The expert answers an open offer. An expired offer cannot be accepted (the sweep may not have run yet).
    func respond(to offerID: UUID, accept: Bool, by actor: Actor) async throws {
        guard let offer = try await RequestOffer.find(offerID, on: db),
              let request = try await KnowledgeRequest.find(offer.$request.id, on: db) else { throw Abort(.notFound) }
        // Refusals are checked first and recorded on their own (a failed transaction would roll the record back).
        guard let profile = try await ExpertProfile.find(offer.$expert.id, on: db), profile.$user.id == actor.userID else {
            try await record(request, note: "rfk.history.foreign-answer", actorID: actor.userID, on: db)
            throw CoordinationError.notYourOffer
        }
        guard offer.state == .open else { throw CoordinationError.offerNotOpen }
        if offer.expiresAt <= now() {
            try await record(request, note: "rfk.history.late-answer", actorID: actor.userID, on: db)
            throw CoordinationError.offerExpired
        }
        try await db.transaction { tx in
            let s = self.on(tx)
            offer.state = accept ? .accepted : .declined
            try await offer.save(on: tx)
            try await s.fire(accept ? .acceptOffer : .declineOffer, on: request, as: .expert, actorID: actor.userID, on: tx)
            if !accept { try await s.passOn(request, on: tx) }
            if accept, let requester = try await User.find(request.$requester.id, on: tx) {
                try await s.mail(to: requester, subjectKey: "rfk.mail.accepted", request: request, on: tx)
            }
        }
    }

    /// A refused attempt that changes nothing but belongs in the trail.
    private func record(_ request: KnowledgeRequest, note: String, actorID: UUID?, on db: any Database) async throws {
        try await trail(request, event: "refused", actorKind: "refused", actorID: actorID, note: note, on: db)
    }

    /// A trail entry that is not a transition (a refusal, a deadline warning, an answer at the open listing).
    func trail(_ request: KnowledgeRequest, event: String, actorKind: String, actorID: UUID?, note: String, on db: any Database) async throws {
        let entry = RequestEvent()
        entry.$request.id = try request.requireID()
        entry.actorID = actorID
        entry.actorKind = actorKind
        entry.event = event
        entry.fromState = request.state
        entry.toState = request.state
        entry.level = request.level
        entry.note = note
        try await entry.create(on: db)
    }

    /// After a decline or an expiry: the next candidate above the threshold gets the offer, or the request climbs a level.
    func passOn(_ request: KnowledgeRequest, on db: any Database) async throws {
        let (results, profiles, settings) = try await ranking(request, on: db)
        if let next = results.first(where: \.aboveThreshold), let profile = profiles[next.expertID] {
            try await fire(.offer, on: request, as: .system, actorID: nil, note: "rfk.history.next-candidate", on: db)
            try await createOffer(request, profile: profile, result: next, settings: settings, reason: nil, by: nil, on: db)
        } else {
            try await escalate(request, note: "rfk.history.no-candidate", on: db)
        }
    }

    /// One level up the ladder; its coordinators hear of it.
    func escalate(_ request: KnowledgeRequest, note: String, on db: any Database) async throws {
        guard request.level < Self.maxLevel else { return }
        request.level += 1
        request.levelSince = now()
        try await fire(.escalate, on: request, as: .system, actorID: nil, note: note, on: db)
        try await notifyCoordinators(request, subjectKey: "rfk.mail.escalated", on: db)
    }

    /// The periodic sweep: expired offers pass on, lapsed service levels escalate. Returns what it did.
    @discardableResult
    func sweep() async throws -> (expired: Int, escalated: Int) {
        let settings = try await CoordinationSettings.load(on: db)
        let now = self.now()
        var expired = 0, escalated = 0
        for offer in try await RequestOffer.query(on: db).filter(\.$state == .open).filter(\.$expiresAt <= now).all() {
            try await db.transaction { tx in
            let s = self.on(tx)
                guard let request = try await KnowledgeRequest.find(offer.$request.id, on: tx), request.workflowState == .offered else { return }
                offer.state = .expired
                try await offer.save(on: tx)
                try await s.fire(.expireOffer, on: request, as: .system, actorID: nil, note: "rfk.history.offer-expired", on: tx)
                try await s.passOn(request, on: tx)
                expired += 1
            }
        }
        // Triage: level 1 requests still submitted after the triage days; matching: no offer within the matching days.
        let triageCutoff = Self.cutoff(workingDays: settings.triageWorkingDays, before: now)
        let matchingCutoff = Self.cutoff(workingDays: settings.matchingWorkingDays, before: now)
        let lapsed = try await KnowledgeRequest.query(on: db)
            .group(.or) { group in
                group.group(.and) { $0.filter(\.$state == RfKState.submitted.rawValue).filter(\.$levelSince < triageCutoff) }
                group.group(.and) { $0.filter(\.$state == RfKState.matching.rawValue).filter(\.$levelSince < matchingCutoff).filter(\.$level < Self.maxLevel) }
            }.all()
        for request in lapsed {
            try await db.transaction { tx in
                let s = self.on(tx)
                try await s.escalate(request, note: "rfk.history.sla-lapsed", on: tx)
                escalated += 1
            }
        }
        // A working day before the time is up, the level's coordinators are warned (once per level).
        let triageWarning = Self.cutoff(workingDays: max(0, settings.triageWorkingDays - 1), before: now)
        let matchingWarning = Self.cutoff(workingDays: max(0, settings.matchingWorkingDays - 1), before: now)
        let closing = try await KnowledgeRequest.query(on: db)
            .group(.or) { group in
                group.group(.and) { $0.filter(\.$state == RfKState.submitted.rawValue).filter(\.$levelSince < triageWarning).filter(\.$levelSince >= triageCutoff) }
                group.group(.and) { $0.filter(\.$state == RfKState.matching.rawValue).filter(\.$levelSince < matchingWarning).filter(\.$levelSince >= matchingCutoff).filter(\.$level < Self.maxLevel) }
            }.all()
        for request in closing {
            let warned = try await RequestEvent.query(on: db).filter(\.$request.$id == request.requireID())
                .filter(\.$event == "sla_warning").filter(\.$level == request.level).count()
            guard warned == 0 else { continue }
            try await trail(request, event: "sla_warning", actorKind: RfKActor.system.rawValue, actorID: nil, note: "rfk.history.sla-warning", on: db)
            try await notifyCoordinators(request, subjectKey: "rfk.mail.sla-warning")
        }
        return (expired, escalated)
    }

    /// The moment `workingDays` working days before `date` (so `levelSince < cutoff` means the time is up).
    static func cutoff(workingDays: Int, before date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Belgrade") ?? .current
        var result = date
        var left = workingDays
        while left > 0 {
            result = calendar.date(byAdding: .day, value: -1, to: result) ?? result.addingTimeInterval(-86400)
            let weekday = calendar.component(.weekday, from: result)
            if weekday != 1 && weekday != 7 { left -= 1 }
        }
        return result
    }

    // MARK: triage, delivery and the rest

    func triage(_ request: KnowledgeRequest, event: RfKEvent, note: String, by actor: Actor) async throws {
        guard [.accept, .requestInfo, .reject, .close].contains(event) else { throw CoordinationError.workflow(.notAllowed(state: request.workflowState, event: event)) }
        try await db.transaction { tx in
            let s = self.on(tx)
            try await s.fire(event, on: request, by: actor, note: note, on: tx)
            if event == .accept { request.levelSince = now(); try await request.save(on: tx) }
        }
        if event == .requestInfo || event == .reject, let requester = try await User.find(request.$requester.id, on: db) {
            try await mail(to: requester, subjectKey: event == .reject ? "rfk.mail.rejected" : "rfk.mail.needs-info", request: request, on: db)
        }
    }

    func plan(_ request: KnowledgeRequest, on date: String, format: String, by actor: Actor) async throws {
        guard let day = CampaignService.parseDay(date) else { throw FieldErrors([("planned_on", "rfk.error.date")]) }
        guard Self.formats.contains(format) else { throw FieldErrors([("planned_format", "rfk.error.formats")]) }
        try await db.transaction { tx in
            let s = self.on(tx)
            try await s.fire(.plan, on: request, by: actor, note: "\(date) · \(format)", on: tx)
            request.plannedOn = day
            request.plannedFormat = format
            try await request.save(on: tx)
        }
    }

    func deliver(_ request: KnowledgeRequest, by actor: Actor) async throws {
        try await db.transaction { tx in
            let s = self.on(tx)
            try await s.fire(.deliver, on: request, by: actor, on: tx)
            request.deliveredOn = now()
            try await request.save(on: tx)
        }
    }

    /// The requester rates the delivery (1–5): it feeds the expert's quality, and a draft knowledge case is created in
    /// the repository for the expert to complete (the cascade of DESIGN.md 3.3).
    func evaluate(_ request: KnowledgeRequest, rating: Int, text: String, by actor: Actor, repository: RepositoryService) async throws {
        guard (1...5).contains(rating) else { throw FieldErrors([("rating", "rfk.error.rating")]) }
        try await db.transaction { tx in
            let s = self.on(tx)
            try await s.fire(.evaluate, on: request, by: actor, note: "\(rating)/5", on: tx)
            request.rating = rating
            request.evaluation = String(text.prefix(5000))
            guard let offer = try await s.acceptedOffer(request, on: tx), let profile = try await ExpertProfile.find(offer.$expert.id, on: tx),
                  let expertUser = try await User.find(profile.$user.id, on: tx) else { try await request.save(on: tx); return }
            profile.ratingSum += rating
            profile.ratingCount += 1
            try await profile.save(on: tx)
            let expert = try await Actor.load(for: expertUser, on: tx)
            let institution = try await Institution.find(profile.$institution.id, on: tx)
            let year = Calendar(identifier: .gregorian).component(.year, from: now())
            var input = RecordInput()
            input.title = "Knowledge case: \(request.title)"
            input.description = """
                \(request.gap)

                Desired outcomes: \(request.outcomes)

                Delivered as \(request.plannedFormat ?? "") on \(request.deliveredOn.map { CampaignService.day($0) } ?? "") for \(request.audienceRole) (\(request.audienceSize)). Evaluation: \(rating)/5. \(text)
                """
            input.creators = [RecordCreator(name: expertUser.name, affiliation: institution?.names["en"] ?? "", orcid: profile.orcid)]
            input.resourceType = "case_study"
            input.areas = request.areas
            input.languages = request.languages.isEmpty ? ["en"] : request.languages
            input.countryCode = institution?.countryCode ?? ""
            input.year = String(year)
            input.licence = "CC-BY-4.0"
            input.origin = "Request for Knowledge “\(request.title)” (\(baseURL)/requests/\(request.id!.uuidString))"
            input.visibility = "network"
            input.institutionID = profile.$institution.id.uuidString
            let draft = try await RepositoryService(db: tx, storage: repository.storage, index: repository.index,
                                                    maxUploadBytes: repository.maxUploadBytes).create(input, by: expert)
            request.knowledgeCaseID = draft.id
            try await request.save(on: tx)
        }
    }

    func withdraw(_ request: KnowledgeRequest, by actor: Actor) async throws {
        try await db.transaction { tx in
            let s = self.on(tx)
            if let open = try await s.openOffer(request, on: tx) { open.state = .withdrawn; try await open.save(on: tx) }
            try await s.fire(.withdraw, on: request, by: actor, on: tx)
        }
    }

    /// Reuse first: the requester accepts a published repository record as the answer.
    func resolve(_ request: KnowledgeRequest, with recordID: UUID, by actor: Actor) async throws {
        guard let record = try await RepositoryRecord.find(recordID, on: db), record.publishedVersion != nil, !record.isArchived else {
            throw CoordinationError.recordNotPublished
        }
        try await db.transaction { tx in
            let s = self.on(tx)
            try await s.fire(.resolveWithExisting, on: request, by: actor, note: recordID.uuidString, on: tx)
            request.resolvedRecordID = recordID
            try await request.save(on: tx)
        }
    }

    // MARK: mail

    /// The coordinators of the request's current level.
    func coordinators(of request: KnowledgeRequest, on db: any Database) async throws -> [User] {
        let place = try await place(of: request, on: db)
        let grants = try await RoleAssignment.query(on: db).all()
        let ids = grants.filter { assignment in
            guard let grant = assignment.grant else { return false }
            switch request.level {
            case 1: return grant.role == .institutionalCoordinator && grant.scopeID == place.institutionID.uuidString
            case 2: return grant.role == .nationalCoordinator && grant.scopeID == place.countryCode
            default: return grant.role == .regionalCoordinator
            }
        }.map(\.$user.id)
        return try await User.query(on: db).filter(\.$id ~~ ids).all()
    }

    func notifyCoordinators(_ request: KnowledgeRequest, subjectKey: String, on db: (any Database)? = nil) async throws {
        let db = db ?? self.db
        for user in try await coordinators(of: request, on: db) {
            try await mail(to: user, subjectKey: subjectKey, request: request, on: db)
        }
    }

    /// Inbox entry and (unless the person turned the kind off) a mail, in the person's language.
    func mail(to user: User, subjectKey: String, request: KnowledgeRequest, on db: any Database) async throws {
        let kind: AppNotification.Kind
        switch subjectKey {
        case "rfk.mail.offer": kind = .offer
        case "rfk.mail.escalated": kind = .escalation
        case "rfk.mail.accepted": kind = .acceptance
        case "rfk.mail.sla-warning": kind = .slaWarning
        default: kind = .request
        }
        try await Notifier(db: db, mailer: mailer, catalog: catalog, baseURL: baseURL)
            .notify(user, kind, key: subjectKey, arguments: [request.title], link: "/requests/\(try request.requireID().uuidString)")
    }

}
