import Fluent
import FluentSQL
import Vapor

/// Why a training action was refused, as a catalog key the page shows.
enum TrainingError: Error, Equatable {
    case registrationClosed
    case full
    case alreadyRegistered
    case notRegistered
    case eventCancelled
    case checkInClosed
    case wrongCheckInCode
    case alreadyEvaluated
    case evaluationTooEarly
    case alreadyRevoked

    var catalogKey: String {
        switch self {
        case .registrationClosed: "training.error.registration-closed"
        case .full: "training.error.full"
        case .alreadyRegistered: "training.error.already-registered"
        case .notRegistered: "training.error.not-registered"
        case .eventCancelled: "training.error.event-cancelled"
        case .checkInClosed: "training.error.check-in-closed"
        case .wrongCheckInCode: "training.error.check-in-code"
        case .alreadyEvaluated: "training.error.already-evaluated"
        case .evaluationTooEarly: "training.error.evaluation-too-early"
        case .alreadyRevoked: "training.error.already-revoked"
        }
    }
}

/// One session row of the event form, as typed (local date-times in the event's time zone).
struct SessionInput: Equatable, Sendable {
    var id: String = ""
    var start: String = ""
    var end: String = ""
    var venue: String = ""
    var onlineURL: String = ""
    var cancelled: Bool = false
    var isBlank: Bool { id.isEmpty && start.isEmpty && end.isEmpty && venue.isEmpty && onlineURL.isEmpty }
}

/// The event form, as typed.
struct EventInput: Equatable, Sendable {
    var kind = TrainingEvent.Kind.pilot.rawValue
    var title = ""
    var description = ""
    var moduleID = ""
    var requestID = ""
    var institutionID = ""
    var areas: [String] = []
    var language = "en"
    var timeZone = "Europe/Belgrade"
    var capacity = "20"
    var requiresApproval = false
    var registrationOpens = ""
    var registrationCloses = ""
    var hours = ""
    var minAttendance = "75"
    var requiresEvaluation = true
    var isRefresher = false
    /// Trainers' email addresses, one per line or comma-separated.
    var trainers = ""
    var sessions: [SessionInput] = []
}

/// Local date-times in an event's time zone ("2026-12-10T14:30", the value of `<input type="datetime-local">`).
enum EventTime {
    static func parse(_ text: String, in zone: TimeZone) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        for format in ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) { return date }
        }
        return nil
    }

    static func input(_ date: Date?, in zone: TimeZone) -> String {
        guard let date else { return "" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm"
        return formatter.string(from: date)
    }

    /// "10 Dec 2026, 14:30" in the zone and the person's language.
    static func display(_ date: Date, in zone: TimeZone, _ locale: UILocale, time: Bool = true) -> String {
        let formatter = DateFormatter()
        formatter.locale = locale.formattingLocale
        formatter.timeZone = zone
        formatter.dateStyle = .medium
        formatter.timeStyle = time ? .short : .none
        return formatter.string(from: date)
    }
}

/// Serialises the registration changes of one event inside this process (the embedded SQLite has one connection,
/// so two transactions may not interleave on it); on PostgreSQL the event row is also locked `FOR UPDATE`, so
/// several processes agree as well.
actor EventLocks {
    static let shared = EventLocks()
    private var busy: Set<UUID> = []
    private var waiters: [UUID: [CheckedContinuation<Void, Never>]] = [:]

    func acquire(_ id: UUID) async {
        if !busy.contains(id) { busy.insert(id); return }
        await withCheckedContinuation { waiters[id, default: []].append($0) }
    }

    func release(_ id: UUID) {
        if var queue = waiters[id], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[id] = queue.isEmpty ? nil : queue
            next.resume()
        } else {
            busy.remove(id)
        }
    }

    static func with<T>(_ id: UUID, _ body: () async throws -> T) async throws -> T {
        await shared.acquire(id)
        do {
            let value = try await body()
            await shared.release(id)
            return value
        } catch {
            await shared.release(id)
            throw error
        }
    }
}

/// The rules of training events (DESIGN.md 3.4): who organises, registration with approval and a waiting list that
/// promotes by itself, attendance, evaluation, completion and certificates. Takes `any Database`, never a request.
struct TrainingService {
    var db: any Database
    let mailer: any Mailer
    let catalog: Catalog
    let baseURL: String
    var now: @Sendable () -> Date = { Date() }

    func on(_ db: any Database) -> TrainingService {
        var copy = self
        copy.db = db
        return copy
    }

    // MARK: authorization

    func place(of institutionID: UUID) async throws -> InstitutionPlace? {
        guard let institution = try await Institution.find(institutionID, on: db) else { return nil }
        return InstitutionPlace(institutionID: institutionID, countryCode: institution.countryCode)
    }

    /// Coordinators of the institution (and above) and its trainers create events there.
    func canCreateEvents(at place: InstitutionPlace, _ actor: Actor) -> Bool {
        actor.canManage(place) || actor.grants.contains { $0.role == .trainer && $0.scopeID == place.institutionID.uuidString }
    }

    /// The organiser, the coordinators above the event's institution, and its trainers run the event.
    func canRun(_ event: TrainingEvent, _ actor: Actor) async throws -> Bool {
        if event.organiserID == actor.userID { return true }
        if let place = try await place(of: event.$institution.id), actor.canManage(place) { return true }
        return try await EventTrainer.query(on: db).filter(\.$event.$id == event.requireID()).filter(\.$user.$id == actor.userID).count() > 0
    }

    /// Only the organiser and the coordinators change the event itself and revoke certificates.
    func canEdit(_ event: TrainingEvent, _ actor: Actor) async throws -> Bool {
        if event.organiserID == actor.userID { return true }
        guard let place = try await place(of: event.$institution.id) else { return false }
        return actor.canManage(place)
    }

    // MARK: events

    struct Validated {
        var kind: TrainingEvent.Kind
        var zone: TimeZone
        var capacity: Int
        var hours: Double
        var minAttendance: Double
        var opens: Date?
        var closes: Date?
        var trainers: [User]
        var sessions: [(input: SessionInput, start: Date, end: Date)]
        var moduleID: UUID?
        var requestID: UUID?
        var institutionID: UUID
    }

    func validate(_ input: EventInput, actor: Actor) async throws -> Validated {
        var errors: [(String, String)] = []
        let kind = TrainingEvent.Kind(rawValue: input.kind)
        if kind == nil { errors.append(("kind", "training.error.kind")) }
        if input.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { errors.append(("title", "training.error.title")) }
        if input.title.count > 300 { errors.append(("title", "respond.error.too_long")) }
        if input.description.count > 20_000 { errors.append(("description", "respond.error.too_long")) }
        let institutionID = UUID(uuidString: input.institutionID)
        var place: InstitutionPlace?
        if let institutionID { place = try await self.place(of: institutionID) }
        if place == nil { errors.append(("institution", "training.error.institution")) }
        else if !canCreateEvents(at: place!, actor) { throw Forbidden() }
        let zone = TimeZone(identifier: input.timeZone)
        if zone == nil { errors.append(("time_zone", "training.error.time-zone")) }
        let capacity = Int(input.capacity.trimmingCharacters(in: .whitespaces))
        if capacity == nil || !(1...10_000).contains(capacity!) { errors.append(("capacity", "training.error.capacity")) }
        let hours = Double(input.hours.replacingOccurrences(of: ",", with: ".").trimmingCharacters(in: .whitespaces))
        if hours == nil || !(0.5...500).contains(hours!) { errors.append(("hours", "training.error.hours")) }
        let share = Double(input.minAttendance.trimmingCharacters(in: .whitespaces))
        if share == nil || !(0...100).contains(share!) { errors.append(("min_attendance", "training.error.min-attendance")) }
        if input.areas.isEmpty { errors.append(("areas", "training.error.areas")) }
        let tz = zone ?? TimeZone(identifier: "UTC")!
        var opens: Date?, closes: Date?
        if !input.registrationOpens.isEmpty {
            opens = EventTime.parse(input.registrationOpens, in: tz)
            if opens == nil { errors.append(("registration_opens", "training.error.date")) }
        }
        if !input.registrationCloses.isEmpty {
            closes = EventTime.parse(input.registrationCloses, in: tz)
            if closes == nil { errors.append(("registration_closes", "training.error.date")) }
        }
        if let opens, let closes, closes <= opens { errors.append(("registration_closes", "training.error.window")) }
        var sessions: [(input: SessionInput, start: Date, end: Date)] = []
        for (index, row) in input.sessions.enumerated() where !row.isBlank {
            guard let start = EventTime.parse(row.start, in: tz), let end = EventTime.parse(row.end, in: tz) else {
                errors.append(("session_\(index)", "training.error.session-dates")); continue
            }
            if end <= start { errors.append(("session_\(index)", "training.error.session-order")); continue }
            if end.timeIntervalSince(start) > 24 * 3600 { errors.append(("session_\(index)", "training.error.session-length")); continue }
            let url = row.onlineURL.trimmingCharacters(in: .whitespaces)
            if !url.isEmpty && !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
                errors.append(("session_\(index)", "training.error.session-url")); continue
            }
            if row.venue.trimmingCharacters(in: .whitespaces).isEmpty && url.isEmpty {
                errors.append(("session_\(index)", "training.error.session-place")); continue
            }
            sessions.append((row, start, end))
        }
        if sessions.filter({ !$0.input.cancelled }).isEmpty && !errors.contains(where: { $0.0.hasPrefix("session_") }) {
            errors.append(("session_0", "training.error.no-session"))
        }
        var trainers: [User] = []
        let emails = input.trainers.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == ";" || $0 == " " || $0 == "\r" })
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        var unknown: [String] = []
        for email in Set(emails).sorted() {
            if let user = try await User.query(on: db).filter(\.$email == email).first() { trainers.append(user) } else { unknown.append(email) }
        }
        if !unknown.isEmpty { errors.append(("trainers", "training.error.trainers")) }
        var moduleID: UUID?
        if !input.moduleID.isEmpty {
            moduleID = UUID(uuidString: input.moduleID)
            if moduleID == nil { errors.append(("module", "training.error.module")) }
            else if try await TrainingModule.find(moduleID, on: db) == nil { errors.append(("module", "training.error.module")) }
        }
        var requestID: UUID?
        if !input.requestID.isEmpty {
            requestID = UUID(uuidString: input.requestID)
            if requestID == nil { errors.append(("request", "training.error.request")) }
            else if try await KnowledgeRequest.find(requestID, on: db) == nil { errors.append(("request", "training.error.request")) }
        }
        if !errors.isEmpty { throw FieldErrors(errors) }
        return Validated(kind: kind!, zone: zone!, capacity: capacity!, hours: hours!, minAttendance: share! / 100, opens: opens,
                         closes: closes, trainers: trainers, sessions: sessions, moduleID: moduleID, requestID: requestID,
                         institutionID: institutionID!)
    }

    func createEvent(_ input: EventInput, by actor: Actor) async throws -> TrainingEvent {
        let valid = try await validate(input, actor: actor)
        let event = TrainingEvent()
        event.organiserID = actor.userID
        event.status = .scheduled
        event.sequence = 0
        try await db.transaction { tx in
            try await self.on(tx).apply(valid, input, to: event)
        }
        return event
    }

    func updateEvent(_ event: TrainingEvent, _ input: EventInput, by actor: Actor) async throws {
        guard try await canEdit(event, actor) else { throw Forbidden() }
        let valid = try await validate(input, actor: actor)
        event.sequence += 1
        try await db.transaction { tx in
            try await self.on(tx).apply(valid, input, to: event)
        }
    }

    private func apply(_ valid: Validated, _ input: EventInput, to event: TrainingEvent) async throws {
        event.kind = valid.kind
        event.title = input.title.trimmingCharacters(in: .whitespacesAndNewlines)
        event.description = input.description
        event.$module.id = valid.moduleID
        event.requestID = valid.requestID
        event.$institution.id = valid.institutionID
        event.areas = input.areas
        event.language = input.language
        event.timeZone = valid.zone.identifier
        event.capacity = valid.capacity
        event.requiresApproval = input.requiresApproval
        event.registrationOpens = valid.opens
        event.registrationCloses = valid.closes
        event.hours = valid.hours
        event.minAttendance = valid.minAttendance
        event.requiresEvaluation = input.requiresEvaluation
        event.isRefresher = input.isRefresher
        try await event.save(on: db)
        let eventID = try event.requireID()
        let existing = try await EventSession.query(on: db).filter(\.$event.$id == eventID).all()
        for row in valid.sessions {
            if let id = UUID(uuidString: row.input.id), let session = existing.first(where: { $0.id == id }) {
                let changed = session.startsAt != row.start || session.endsAt != row.end || session.venue != row.input.venue
                    || session.onlineURL != row.input.onlineURL || session.cancelled != row.input.cancelled
                if changed {
                    session.startsAt = row.start
                    session.endsAt = row.end
                    session.venue = row.input.venue.trimmingCharacters(in: .whitespaces)
                    session.onlineURL = row.input.onlineURL.trimmingCharacters(in: .whitespaces)
                    session.cancelled = row.input.cancelled
                    session.sequence += 1
                    try await session.save(on: db)
                }
            } else if !row.input.cancelled {
                let session = EventSession()
                session.$event.id = eventID
                session.startsAt = row.start
                session.endsAt = row.end
                session.venue = row.input.venue.trimmingCharacters(in: .whitespaces)
                session.onlineURL = row.input.onlineURL.trimmingCharacters(in: .whitespaces)
                session.cancelled = false
                session.sequence = 0
                session.checkinCode = CertificateCode.make(bytes: 12)
                try await session.create(on: db)
            }
        }
        let current = try await EventTrainer.query(on: db).filter(\.$event.$id == eventID).all()
        let wanted = Set(try valid.trainers.map { try $0.requireID() })
        for trainer in current where !wanted.contains(trainer.$user.id) { try await trainer.delete(on: db) }
        for userID in wanted where !current.contains(where: { $0.$user.id == userID }) {
            let trainer = EventTrainer()
            trainer.$event.id = eventID
            trainer.$user.id = userID
            try await trainer.create(on: db)
        }
    }

    func cancelEvent(_ event: TrainingEvent, by actor: Actor) async throws {
        guard try await canEdit(event, actor) else { throw Forbidden() }
        event.status = .cancelled
        event.sequence += 1
        try await event.save(on: db)
        for registration in try await EventRegistration.query(on: db).filter(\.$event.$id == event.requireID())
            .filter(\.$status ~~ [.registered, .pending, .waitlisted]).with(\.$user).all() {
            try await notify(registration.user, "training.mail.event-cancelled", event)
        }
    }

    func sessions(of event: TrainingEvent) async throws -> [EventSession] {
        try await EventSession.query(on: db).filter(\.$event.$id == event.requireID()).sort(\.$startsAt).all()
    }

    // MARK: registration

    private func lockEvent(_ event: TrainingEvent, on tx: any Database) async throws {
        if let sql = tx as? any SQLDatabase, sql.dialect.name == "postgresql" {
            try await sql.raw("SELECT id FROM training_events WHERE id = \(bind: event.requireID()) FOR UPDATE").run()
        }
    }

    private func counts(_ eventID: UUID, on tx: any Database) async throws -> (registered: Int, nextPosition: Int) {
        let registered = try await EventRegistration.query(on: tx).filter(\.$event.$id == eventID).filter(\.$status == .registered).count()
        let last = try await EventRegistration.query(on: tx).filter(\.$event.$id == eventID).max(\.$position) ?? 0
        return (registered, last + 1)
    }

    /// Registers the person: a place, approval pending, or (only when they asked for it) the waiting list.
    /// A full event without `waitlist` throws `.full`, so the page can offer the waiting list.
    @discardableResult
    func register(_ event: TrainingEvent, user: User, waitlist: Bool, byOrganiser: Bool = false) async throws -> EventRegistration {
        guard event.status == .scheduled else { throw TrainingError.eventCancelled }
        let eventID = try event.requireID()
        let userID = try user.requireID()
        if !byOrganiser {
            let first = try await sessions(of: event).filter { !$0.cancelled }.first?.startsAt
            guard TrainingRules.registrationOpen(now: now(), opens: event.registrationOpens, closes: event.registrationCloses,
                                                 firstSessionStart: first) else { throw TrainingError.registrationClosed }
        }
        return try await EventLocks.with(eventID) {
            try await db.transaction { tx in
                try await lockEvent(event, on: tx)
                let existing = try await EventRegistration.query(on: tx).filter(\.$event.$id == eventID).filter(\.$user.$id == userID).first()
                if let existing, [.registered, .pending, .waitlisted].contains(existing.status) { throw TrainingError.alreadyRegistered }
                let (registered, position) = try await counts(eventID, on: tx)
                var placement = TrainingRules.placement(registered: registered, capacity: event.capacity,
                                                        requiresApproval: event.requiresApproval && !byOrganiser)
                if placement == .waitlisted && !waitlist && !byOrganiser { throw TrainingError.full }
                if placement == .pending && registered >= event.capacity && !waitlist { throw TrainingError.full }
                if placement == .pending && registered >= event.capacity { placement = .pending }
                let registration = existing ?? EventRegistration()
                registration.$event.id = eventID
                registration.$user.id = userID
                registration.position = position
                switch placement {
                case .registered: registration.status = .registered
                case .pending: registration.status = .pending
                case .waitlisted: registration.status = .waitlisted
                }
                try await registration.save(on: tx)
                let key = switch registration.status {
                case .registered: "training.mail.registered"
                case .pending: "training.mail.pending"
                default: "training.mail.waitlisted"
                }
                try await self.on(tx).notify(user, key, event)
                return registration
            }
        }
    }

    /// The participant cancels; a freed place goes to the first on the waiting list, who is told by mail.
    func cancel(_ event: TrainingEvent, user: User) async throws {
        let eventID = try event.requireID()
        let userID = try user.requireID()
        try await EventLocks.with(eventID) {
            try await db.transaction { tx in
                try await lockEvent(event, on: tx)
                guard let registration = try await EventRegistration.query(on: tx).filter(\.$event.$id == eventID)
                    .filter(\.$user.$id == userID).filter(\.$status ~~ [.registered, .pending, .waitlisted]).first() else {
                    throw TrainingError.notRegistered
                }
                registration.status = .cancelled
                try await registration.save(on: tx)
                try await self.on(tx).promote(event)
            }
        }
    }

    /// Fills free places from the waiting list, in order. Runs inside the event's lock and transaction.
    private func promote(_ event: TrainingEvent) async throws {
        let eventID = try event.requireID()
        let registered = try await EventRegistration.query(on: db).filter(\.$event.$id == eventID).filter(\.$status == .registered).count()
        let waiting = try await EventRegistration.query(on: db).filter(\.$event.$id == eventID).filter(\.$status == .waitlisted)
            .sort(\.$position).with(\.$user).all()
        let count = TrainingRules.promotions(registered: registered, capacity: event.capacity, waiting: waiting.count)
        for registration in waiting.prefix(count) {
            registration.status = .registered
            try await registration.save(on: db)
            try await notify(registration.user, "training.mail.promoted", event)
        }
    }

    /// The organiser approves or declines a registration waiting for approval (approved without a place → waiting list).
    func decide(_ event: TrainingEvent, registrationID: UUID, approve: Bool, by actor: Actor) async throws {
        guard try await canRun(event, actor) else { throw Forbidden() }
        let eventID = try event.requireID()
        try await EventLocks.with(eventID) {
            try await db.transaction { tx in
                try await lockEvent(event, on: tx)
                guard let registration = try await EventRegistration.query(on: tx).filter(\.$id == registrationID)
                    .filter(\.$event.$id == eventID).with(\.$user).first(), registration.status == .pending else { throw Abort(.notFound) }
                if approve {
                    let (registered, _) = try await counts(eventID, on: tx)
                    registration.status = registered < event.capacity ? .registered : .waitlisted
                } else {
                    registration.status = .declined
                }
                try await registration.save(on: tx)
                let key = switch registration.status {
                case .registered: "training.mail.registered"
                case .waitlisted: "training.mail.waitlisted"
                default: "training.mail.declined"
                }
                try await self.on(tx).notify(registration.user, key, event)
            }
        }
    }

    /// The organiser adds a participant by email (a place if there is one, otherwise the waiting list).
    func addParticipant(_ event: TrainingEvent, email: String, by actor: Actor) async throws -> EventRegistration {
        guard try await canRun(event, actor) else { throw Forbidden() }
        let address = email.trimmingCharacters(in: .whitespaces).lowercased()
        guard let user = try await User.query(on: db).filter(\.$email == address).first() else {
            throw FieldErrors([("participant_email", "training.error.unknown-email")])
        }
        return try await register(event, user: user, waitlist: true, byOrganiser: true)
    }

    // MARK: attendance

    /// The roll call: marks for the registered participants of one session.
    func recordAttendance(_ event: TrainingEvent, session: EventSession, marks: [UUID: SessionAttendance.Mark], by actor: Actor) async throws {
        guard try await canRun(event, actor) else { throw Forbidden() }
        guard session.$event.id == event.id, !session.cancelled else { throw Abort(.notFound) }
        let registered = Set(try await EventRegistration.query(on: db).filter(\.$event.$id == event.requireID())
            .filter(\.$status == .registered).all().map(\.$user.id))
        try await db.transaction { tx in
            for (userID, mark) in marks where registered.contains(userID) {
                try await self.on(tx).mark(session, userID: userID, mark, source: "roll_call")
            }
        }
        for userID in marks.keys where registered.contains(userID) { try await updateCompletion(event, userID: userID) }
    }

    private func mark(_ session: EventSession, userID: UUID, _ mark: SessionAttendance.Mark, source: String) async throws {
        let row = try await SessionAttendance.query(on: db).filter(\.$session.$id == session.requireID()).filter(\.$userID == userID).first()
            ?? SessionAttendance()
        row.$session.id = try session.requireID()
        row.userID = userID
        row.mark = mark
        row.source = source
        try await row.save(on: db)
    }

    /// A registered participant scans the session's QR code during the session window.
    func checkIn(_ event: TrainingEvent, session: EventSession, code: String, user: User) async throws {
        guard session.$event.id == event.id, !session.cancelled else { throw Abort(.notFound) }
        guard CertificateCode.equal(code, session.checkinCode) else { throw TrainingError.wrongCheckInCode }
        guard TrainingRules.checkInOpen(now: now(), start: session.startsAt, end: session.endsAt) else { throw TrainingError.checkInClosed }
        let userID = try user.requireID()
        guard try await EventRegistration.query(on: db).filter(\.$event.$id == event.requireID()).filter(\.$user.$id == userID)
            .filter(\.$status == .registered).count() > 0 else { throw TrainingError.notRegistered }
        try await mark(session, userID: userID, .present, source: "qr")
        try await updateCompletion(event, userID: userID)
    }

    // MARK: evaluation

    func evaluate(_ event: TrainingEvent, ratings: [Int], comment: String, user: User) async throws {
        let userID = try user.requireID()
        let eventID = try event.requireID()
        guard try await EventRegistration.query(on: db).filter(\.$event.$id == eventID).filter(\.$user.$id == userID)
            .filter(\.$status == .registered).count() > 0 else { throw TrainingError.notRegistered }
        guard let first = try await sessions(of: event).filter({ !$0.cancelled }).first, first.startsAt <= now() else {
            throw TrainingError.evaluationTooEarly
        }
        guard try await EventEvaluation.query(on: db).filter(\.$event.$id == eventID).filter(\.$userID == userID).count() == 0 else {
            throw TrainingError.alreadyEvaluated
        }
        var errors: [(String, String)] = []
        for (index, item) in EventEvaluation.items.enumerated() where !(1...5).contains(ratings.indices.contains(index) ? ratings[index] : 0) {
            errors.append(("rating_\(item)", "training.error.rating"))
        }
        if comment.count > 5000 { errors.append(("comment", "respond.error.too_long")) }
        if !errors.isEmpty { throw FieldErrors(errors) }
        let evaluation = EventEvaluation()
        evaluation.$event.id = eventID
        evaluation.userID = userID
        evaluation.ratings = Array(ratings.prefix(EventEvaluation.items.count))
        evaluation.comment = comment.trimmingCharacters(in: .whitespacesAndNewlines)
        try await evaluation.create(on: db)
        try await updateCompletion(event, userID: userID)
        try await TrainerCertification(db: db).propose(after: event, mailer: mailer, catalog: catalog, baseURL: baseURL)
    }

    // MARK: completion and certificates

    func record(_ event: TrainingEvent, userID: UUID) async throws -> TrainingRules.Record {
        let sessions = try await self.sessions(of: event).filter { !$0.cancelled && $0.startsAt <= now() }
        let ids = sessions.compactMap(\.id)
        let present = ids.isEmpty ? 0 : try await SessionAttendance.query(on: db).filter(\.$session.$id ~~ ids)
            .filter(\.$userID == userID).filter(\.$mark == .present).count()
        let evaluated = try await EventEvaluation.query(on: db).filter(\.$event.$id == event.requireID()).filter(\.$userID == userID).count() > 0
        return .init(sessions: sessions.count, present: present, evaluated: evaluated)
    }

    /// Applies the completion rule; a first completion is recorded and its certificate issued (and mailed).
    @discardableResult
    func updateCompletion(_ event: TrainingEvent, userID: UUID) async throws -> Certificate? {
        let record = try await record(event, userID: userID)
        guard TrainingRules.isComplete(record, minAttendance: event.minAttendance, requiresEvaluation: event.requiresEvaluation) else { return nil }
        return try await complete(event, userID: userID, source: "attendance")
    }

    /// Records a completion (from the rule or from Moodle) once, with its certificate.
    func complete(_ event: TrainingEvent, userID: UUID, source: String) async throws -> Certificate? {
        let eventID = try event.requireID()
        if try await TrainingCompletion.query(on: db).filter(\.$event.$id == eventID).filter(\.$user.$id == userID).count() > 0 { return nil }
        guard let user = try await User.find(userID, on: db) else { return nil }
        let earlier = try await TrainingCompletion.query(on: db).filter(\.$user.$id == userID).all()
        let earlierAreas = Set(earlier.flatMap(\.areaList))
        let institution = try await user.$institution.id.asyncMap { try await Institution.find($0, on: db) } ?? nil
        let sessions = try await self.sessions(of: event).filter { !$0.cancelled }
        let completedAt = now()
        return try await db.transaction { tx in
            let completion = TrainingCompletion()
            completion.$event.id = eventID
            completion.$user.id = userID
            completion.institutionID = institution?.id
            completion.countryCode = institution?.countryCode ?? ""
            completion.eventKind = event.kind.rawValue
            completion.areas = " " + event.areas.joined(separator: " ") + " "
            completion.year = Calendar(identifier: .gregorian).component(.year, from: sessions.last?.endsAt ?? completedAt)
            completion.hours = event.hours
            completion.retrained = TrainingRules.isRetrained(eventAreas: event.areas, isRefresher: event.isRefresher, earlierAreas: earlierAreas)
            completion.source = source
            completion.completedAt = completedAt
            try await completion.create(on: tx)
            try await TrainedAcademics(db: tx).count(completion)
            let certificate = Certificate()
            certificate.$completion.id = try completion.requireID()
            certificate.code = CertificateCode.make()
            certificate.holderName = user.name
            certificate.holderEmail = user.email
            certificate.eventTitle = event.title
            certificate.eventKind = event.kind.rawValue
            certificate.firstDay = sessions.first?.startsAt ?? completedAt
            certificate.lastDay = sessions.last?.endsAt ?? completedAt
            certificate.hours = event.hours
            certificate.$issuer.id = event.$institution.id
            certificate.badgeSalt = CertificateCode.make(bytes: 8)
            certificate.issuedAt = completedAt
            try await certificate.create(on: tx)
            try await self.on(tx).notify(user, "training.mail.certificate", event, link: "/certificates/\(certificate.code)")
            return certificate
        }
    }

    func revoke(_ certificate: Certificate, reason: String, by actor: Actor) async throws {
        guard let place = try await place(of: certificate.$issuer.id) else { throw Forbidden() }
        let completion = try await TrainingCompletion.find(certificate.$completion.id, on: db)
        let event = try await completion.asyncMap { try await TrainingEvent.find($0.$event.id, on: db) } ?? nil
        let organiser = event?.organiserID == actor.userID
        guard actor.canManage(place) || organiser else { throw Forbidden() }
        guard certificate.revokedAt == nil else { throw TrainingError.alreadyRevoked }
        let text = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { throw FieldErrors([("reason", "training.error.revoke-reason")]) }
        if text.count > 1000 { throw FieldErrors([("reason", "respond.error.too_long")]) }
        certificate.revokedAt = now()
        certificate.revokeReason = text
        try await certificate.save(on: db)
    }

    // MARK: mail

    func notify(_ user: User, _ key: String, _ event: TrainingEvent, link: String? = nil) async throws {
        try await Notifier(db: db, mailer: mailer, catalog: catalog, baseURL: baseURL)
            .notify(user, .training, key: key, arguments: [event.title], link: link ?? "/events/\(try event.requireID().uuidString)")
    }
}

/// Unguessable codes: certificate verification codes (160 random bits) and session check-in codes.
enum CertificateCode {
    static let alphabet = Array("ABCDEFGHJKMNPQRSTVWXYZ23456789")

    /// `bytes` random bytes written in an alphabet without look-alike letters (5 bits per character would need 32;
    /// 30 symbols give 4.9 bits each, so 20 bytes → 33 characters).
    static func make(bytes: Int = 20) -> String {
        var generator = SystemRandomNumberGenerator()
        let characters = Int((Double(bytes * 8) / log2(Double(alphabet.count))).rounded(.up))
        return String((0..<characters).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] })
    }

    /// A code as a person may type it: spaces and dashes dropped, upper case.
    static func normalise(_ text: String) -> String {
        String(text.uppercased().filter { $0 != " " && $0 != "-" }.prefix(64))
    }

    /// Constant-time comparison.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    /// Only codes of the right shape reach the database.
    static func isWellFormed(_ code: String) -> Bool {
        code.count == make().count && code.allSatisfy { alphabet.contains($0) }
    }
}
