import Fluent
import Vapor

extension Request {
    var training: TrainingService {
        TrainingService(db: db, mailer: application.mailer, catalog: application.catalog, baseURL: application.config.baseURL)
    }
}

/// Training events: the list, the form (sessions in the event's time zone, trainers by email), the event page with
/// registration, the waiting list and the organiser's tools (approvals, adding people, roll call, check-in QR codes,
/// the evaluation summary and the certificates), the participant's evaluation form.
struct EventRoutes: RouteCollection {
    static let timeZones = ["Europe/Tirane", "Europe/Belgrade", "Europe/Sarajevo", "Europe/Podgorica", "Europe/Skopje",
                            "Europe/Zagreb", "Europe/Ljubljana", "Europe/Rome", "Europe/Berlin", "Europe/Brussels",
                            "Europe/London", "Europe/Athens", "UTC"]

    func boot(routes: any RoutesBuilder) throws {
        routes.get("events", use: index)
        routes.get("events", ":id", use: show)
        let signedIn = routes.grouped(User.redirectMiddleware(path: "/signin"))
        signedIn.get("events", "new", use: newForm)
        signedIn.post("events", use: create)
        signedIn.get("events", ":id", "edit", use: editForm)
        signedIn.post("events", ":id", "edit", use: update)
        signedIn.post("events", ":id", "cancel-event", use: cancelEvent)
        signedIn.post("events", ":id", "register", use: register)
        signedIn.post("events", ":id", "cancel", use: cancelRegistration)
        signedIn.post("events", ":id", "participants", use: addParticipant)
        signedIn.post("events", ":id", "registrations", ":registrationID", use: decide)
        signedIn.get("events", ":id", "sessions", ":sessionID", "roll-call", use: rollCall)
        signedIn.post("events", ":id", "sessions", ":sessionID", "roll-call", use: saveRollCall)
        signedIn.get("events", ":id", "sessions", ":sessionID", "qr", use: checkInCode)
        signedIn.get("events", ":id", "sessions", ":sessionID", "check-in", use: checkInPage)
        signedIn.post("events", ":id", "sessions", ":sessionID", "check-in", use: checkIn)
        signedIn.get("events", ":id", "evaluation", use: evaluationForm)
        signedIn.post("events", ":id", "evaluation", use: evaluate)
        signedIn.get("my", "trainings", use: myTrainings)
    }

    func find(_ req: Request) async throws -> TrainingEvent {
        guard let id = req.parameters.get("id", as: UUID.self), let event = try await TrainingEvent.find(id, on: req.db) else {
            throw Abort(.notFound)
        }
        return event
    }

    func session(_ req: Request, _ event: TrainingEvent) async throws -> EventSession {
        guard let id = req.parameters.get("sessionID", as: UUID.self), let session = try await EventSession.find(id, on: req.db),
              session.$event.id == event.id else { throw Abort(.notFound) }
        return session
    }

    // MARK: list

    struct EventRow: Encodable {
        var href: String
        var title: String
        var kind: String
        var institution: String
        var when: String
        var language: String
        var places: String
        var status: String?
    }

    struct IndexView: Encodable {
        var upcoming: [EventRow]
        var past: [EventRow]
        var canCreate: Bool
        var kinds: [Choice]
    }

    func rows(_ req: Request, _ events: [TrainingEvent]) async throws -> [EventRow] {
        let institutions = try await Institution.query(on: req.db).all()
        var rows: [EventRow] = []
        for event in events {
            let sessions = try await req.training.sessions(of: event).filter { !$0.cancelled }
            let zone = TimeZone(identifier: event.timeZone) ?? .gmt
            let registered = try await EventRegistration.query(on: req.db).filter(\.$event.$id == event.requireID()).filter(\.$status == .registered).count()
            rows.append(EventRow(
                href: "/events/\(event.id!.uuidString)", title: event.title, kind: req.t(event.kind.catalogKey),
                institution: institutions.first { $0.id == event.$institution.id }.map { localized($0.names, req.locale) } ?? "",
                when: sessions.first.map { EventTime.display($0.startsAt, in: zone, req.locale) } ?? "",
                language: event.language, places: req.t("training.places_left", String(max(0, event.capacity - registered)), String(event.capacity)),
                status: event.status == .cancelled ? req.t("training.event_cancelled") : nil))
        }
        return rows
    }

    func index(req: Request) async throws -> Response {
        let kind = (try? req.query.get(String.self, at: "kind")).flatMap(TrainingEvent.Kind.init(rawValue:))
        var query = TrainingEvent.query(on: req.db)
        if let kind { query = query.filter(\.$kind == kind) }
        let events = try await query.all()
        let now = Date()
        var upcoming: [(Date, TrainingEvent)] = []
        var past: [(Date, TrainingEvent)] = []
        for event in events {
            let sessions = try await req.training.sessions(of: event)
            guard let first = sessions.first?.startsAt, let last = sessions.last?.endsAt else { continue }
            if last >= now { upcoming.append((first, event)) } else { past.append((first, event)) }
        }
        var canCreate = false
        if let actor = try await req.actor() { canCreate = try await !creatableInstitutions(req, actor).isEmpty }
        return try await req.page("training/events", titleKey: "training.events_title", IndexView(
            upcoming: try await rows(req, upcoming.sorted { $0.0 < $1.0 }.map(\.1)),
            past: try await rows(req, past.sorted { $0.0 > $1.0 }.prefix(50).map(\.1)),
            canCreate: canCreate,
            kinds: [Choice(value: "", label: req.t("training.all_kinds"), selected: kind == nil)]
                + TrainingEvent.Kind.allCases.map { Choice(value: $0.rawValue, label: req.t($0.catalogKey), selected: $0 == kind) }))
    }

    func creatableInstitutions(_ req: Request, _ actor: Actor) async throws -> [Institution] {
        try await Institution.query(on: req.db).all().filter { institution in
            req.training.canCreateEvents(at: InstitutionPlace(institutionID: institution.id!, countryCode: institution.countryCode), actor)
        }.sorted { $0.shortName < $1.shortName }
    }

    // MARK: form

    struct FormView: Encodable {
        struct SessionRow: Encodable {
            var index: Int
            var number: Int
            var id: String
            var start: String
            var end: String
            var venue: String
            var onlineURL: String
            var cancelled: Bool
            var existing: Bool
            var error: String?
        }
        var form: FormState
        var action: String
        var isNew: Bool
        var kinds: [Choice]
        var institutions: [Choice]
        var modules: [Choice]
        var areas: [Choice]
        var languages: [Choice]
        var timeZones: [Choice]
        var sessions: [SessionRow]
        var requiresApproval: Bool
        var requiresEvaluation: Bool
        var isRefresher: Bool
        var requestID: String
    }

    static func input(from pairs: [(String, String)]) -> EventInput {
        var input = EventInput()
        input.requiresEvaluation = false
        var starts: [String] = [], ends: [String] = [], venues: [String] = [], urls: [String] = [], ids: [String] = []
        var cancelled: Set<String> = []
        for (name, value) in pairs {
            switch name {
            case "kind": input.kind = value
            case "title": input.title = value
            case "description": input.description = value
            case "module": input.moduleID = value
            case "request": input.requestID = value
            case "institution": input.institutionID = value
            case "areas[]": input.areas.append(value)
            case "language": input.language = value
            case "time_zone": input.timeZone = value
            case "capacity": input.capacity = value
            case "requires_approval": input.requiresApproval = true
            case "registration_opens": input.registrationOpens = value
            case "registration_closes": input.registrationCloses = value
            case "hours": input.hours = value
            case "min_attendance": input.minAttendance = value
            case "requires_evaluation": input.requiresEvaluation = true
            case "is_refresher": input.isRefresher = true
            case "trainers": input.trainers = value
            case "session_id[]": ids.append(value)
            case "session_start[]": starts.append(value)
            case "session_end[]": ends.append(value)
            case "session_venue[]": venues.append(value)
            case "session_url[]": urls.append(value)
            case "session_cancelled[]": cancelled.insert(value)
            default: continue
            }
        }
        for index in starts.indices {
            let id = ids.indices.contains(index) ? ids[index] : ""
            input.sessions.append(SessionInput(id: id, start: starts[index], end: ends.indices.contains(index) ? ends[index] : "",
                                               venue: venues.indices.contains(index) ? venues[index] : "",
                                               onlineURL: urls.indices.contains(index) ? urls[index] : "",
                                               cancelled: !id.isEmpty && cancelled.contains(id)))
        }
        return input
    }

    func input(from event: TrainingEvent, _ req: Request) async throws -> EventInput {
        let zone = TimeZone(identifier: event.timeZone) ?? .gmt
        let trainers = try await EventTrainer.query(on: req.db).filter(\.$event.$id == event.requireID()).with(\.$user).all()
        return EventInput(
            kind: event.kind.rawValue, title: event.title, description: event.description,
            moduleID: event.$module.id?.uuidString ?? "", requestID: event.requestID?.uuidString ?? "",
            institutionID: event.$institution.id.uuidString, areas: event.areas, language: event.language, timeZone: event.timeZone,
            capacity: String(event.capacity), requiresApproval: event.requiresApproval,
            registrationOpens: EventTime.input(event.registrationOpens, in: zone), registrationCloses: EventTime.input(event.registrationCloses, in: zone),
            hours: LocaleFormat.number(event.hours, .en, fractionDigits: event.hours == event.hours.rounded() ? 0 : 1),
            minAttendance: String(Int((event.minAttendance * 100).rounded())), requiresEvaluation: event.requiresEvaluation,
            isRefresher: event.isRefresher, trainers: trainers.map(\.user.email).sorted().joined(separator: "\n"),
            sessions: try await req.training.sessions(of: event).map {
                SessionInput(id: $0.id!.uuidString, start: EventTime.input($0.startsAt, in: zone), end: EventTime.input($0.endsAt, in: zone),
                             venue: $0.venue, onlineURL: $0.onlineURL, cancelled: $0.cancelled)
            })
    }

    func formView(_ req: Request, _ actor: Actor, _ input: EventInput, errors: FieldErrors?, action: String, isNew: Bool) async throws -> FormView {
        var form = FormState(values: ["title": input.title, "description": input.description, "capacity": input.capacity,
                                      "registration_opens": input.registrationOpens, "registration_closes": input.registrationCloses,
                                      "hours": input.hours, "min_attendance": input.minAttendance, "trainers": input.trainers])
        for (field, key) in errors?.fields ?? [] {
            form.add(field, field.hasPrefix("session_") ? req.t("training.session_n", String((Int(field.dropFirst(8)) ?? 0) + 1)) + ": " + req.t(key) : req.t(key))
        }
        let areas = try await Area.query(on: req.db).sort(\.$position).all()
        let languages = try await LanguageEntry.query(on: req.db).all()
        let modules = try await TrainingModule.query(on: req.db).filter(\.$state != .retired).all()
        var sessions = input.sessions.filter { !$0.isBlank }
        let blanks = max(1, 3 - sessions.count)
        sessions += Array(repeating: SessionInput(), count: blanks)
        return FormView(
            form: form, action: action, isNew: isNew,
            kinds: TrainingEvent.Kind.allCases.map { Choice(value: $0.rawValue, label: req.t($0.catalogKey), selected: $0.rawValue == input.kind) },
            institutions: try await creatableInstitutions(req, actor).map {
                Choice(value: $0.id!.uuidString, label: localized($0.names, req.locale), selected: $0.id!.uuidString == input.institutionID)
            },
            modules: [Choice(value: "", label: req.t("training.no_module"), selected: input.moduleID.isEmpty)] + modules.map {
                Choice(value: $0.id!.uuidString, label: localized($0.title, req.locale), selected: $0.id!.uuidString == input.moduleID)
            },
            areas: areas.map { Choice(value: $0.code, label: "\($0.code) · \(localized($0.names, req.locale))", selected: input.areas.contains($0.code)) },
            languages: languages.map { Choice(value: $0.tag, label: localized($0.names, req.locale), selected: $0.tag == input.language) },
            timeZones: Self.timeZones.map { Choice(value: $0, label: $0, selected: $0 == input.timeZone) },
            sessions: sessions.enumerated().map { index, row in
                .init(index: index, number: index + 1, id: row.id, start: row.start, end: row.end, venue: row.venue, onlineURL: row.onlineURL,
                      cancelled: row.cancelled, existing: !row.id.isEmpty, error: form.errors["session_\(index)"])
            },
            requiresApproval: input.requiresApproval, requiresEvaluation: input.requiresEvaluation, isRefresher: input.isRefresher,
            requestID: input.requestID)
    }

    func newForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let institutions = try await creatableInstitutions(req, actor)
        guard !institutions.isEmpty else { throw Forbidden() }
        var input = EventInput()
        input.institutionID = (actor.home.map { $0.institutionID.uuidString }).flatMap { id in institutions.contains { $0.id!.uuidString == id } ? id : nil }
            ?? institutions[0].id!.uuidString
        input.language = req.locale.rawValue.hasPrefix("sr") ? "sr" : String(req.locale.rawValue.prefix(2))
        if let place = try await input.institutionID.isEmpty ? nil : req.training.place(of: UUID(uuidString: input.institutionID)!) {
            input.timeZone = ["AL": "Europe/Tirane", "BA": "Europe/Sarajevo", "ME": "Europe/Podgorica", "MK": "Europe/Skopje",
                              "RS": "Europe/Belgrade", "XK": "Europe/Belgrade", "HR": "Europe/Zagreb", "IT": "Europe/Rome",
                              "GB": "Europe/London"][place.countryCode] ?? "Europe/Belgrade"
        }
        // A short training answering an accepted Request for Knowledge starts from it.
        if let requestID = try? req.query.get(UUID.self, at: "request"), let request = try await KnowledgeRequest.find(requestID, on: req.db) {
            input.kind = TrainingEvent.Kind.short.rawValue
            input.requestID = requestID.uuidString
            input.title = request.title
            input.description = request.outcomes.isEmpty ? request.gap : request.outcomes
            input.areas = request.areas
            input.capacity = String(max(1, request.audienceSize))
        }
        if let moduleID = try? req.query.get(UUID.self, at: "module"), let module = try await TrainingModule.find(moduleID, on: req.db) {
            input.moduleID = moduleID.uuidString
            input.title = localized(module.title, req.locale)
            input.description = localized(module.summary, req.locale)
            input.areas = module.areas
            input.hours = LocaleFormat.number(module.hours, .en)
            if module.kind == .trainTheTrainers { input.kind = TrainingEvent.Kind.trainTheTrainers.rawValue }
        }
        return try await req.page("training/event-form", titleKey: "training.new_event",
                                  try await formView(req, actor, input, errors: nil, action: "/events", isNew: true))
    }

    func create(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let input = Self.input(from: Responding.formPairs(req.body.string ?? ""))
        do {
            let event = try await req.training.createEvent(input, by: actor)
            req.flash("success", "training.event_saved")
            return req.seeOther("/events/\(event.id!.uuidString)")
        } catch let errors as FieldErrors {
            return try await req.page("training/event-form", titleKey: "training.new_event",
                                      try await formView(req, actor, input, errors: errors, action: "/events", isNew: true), status: .unprocessableEntity)
        }
    }

    func editForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let event = try await find(req)
        guard try await req.training.canEdit(event, actor) else { throw Forbidden() }
        return try await req.page("training/event-form", titleKey: "training.edit_event",
                                  try await formView(req, actor, try await input(from: event, req), errors: nil,
                                                     action: "/events/\(event.id!.uuidString)/edit", isNew: false))
    }

    func update(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let event = try await find(req)
        let input = Self.input(from: Responding.formPairs(req.body.string ?? ""))
        do {
            try await req.training.updateEvent(event, input, by: actor)
            req.flash("success", "training.event_saved")
            return req.seeOther("/events/\(event.id!.uuidString)")
        } catch let errors as FieldErrors {
            return try await req.page("training/event-form", titleKey: "training.edit_event",
                                      try await formView(req, actor, input, errors: errors, action: "/events/\(event.id!.uuidString)/edit", isNew: false),
                                      status: .unprocessableEntity)
        }
    }

    func cancelEvent(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let event = try await find(req)
        try await req.training.cancelEvent(event, by: actor)
        req.flash("success", "training.event_cancelled_done")
        return req.seeOther("/events/\(event.id!.uuidString)")
    }

    // MARK: the event page

    struct ShowView: Encodable {
        struct SessionRow: Encodable {
            var id: String
            var number: Int
            var when: String
            var startISO: String
            var endISO: String
            var venue: String
            var onlineURL: String
            var cancelled: Bool
            var rollCallHref: String
            var qrHref: String
        }
        struct Participant: Encodable {
            var registrationID: String
            var name: String
            var email: String
            var institution: String
            var status: String
            var statusCode: String
            var attended: String
            var evaluated: Bool
            var certificateHref: String?
            var pending: Bool
        }
        struct ItemMean: Encodable { var label: String; var mean: String; var percent: Int }
        var id: String
        var title: String
        var kind: String
        var description: String
        var institution: String
        var module: String?
        var moduleHref: String?
        var requestHref: String?
        var language: String
        var timeZone: String
        var sessions: [SessionRow]
        var trainers: [String]
        var capacity: Int
        var registeredCount: Int
        var waitingCount: Int
        var hours: String
        var rule: String
        var window: String?
        var cancelled: Bool
        var registrationOpen: Bool
        var full: Bool
        var signedIn: Bool
        var myStatus: String?
        var myStatusCode: String?
        var myPosition: Int?
        var canEvaluate: Bool
        var evaluated: Bool
        var myCertificateHref: String?
        var canRun: Bool
        var canEdit: Bool
        var participants: [Participant]
        var evaluations: Int
        var itemMeans: [ItemMean]
        var overall: String?
        var comments: [String]
        var form: FormState
        var calendarHref: String
        var institutionCalendarHref: String
    }

    func showView(_ req: Request, _ event: TrainingEvent, form: FormState = FormState()) async throws -> ShowView {
        let actor = try await req.actor()
        let service = req.training
        let eventID = try event.requireID()
        let zone = TimeZone(identifier: event.timeZone) ?? .gmt
        let sessions = try await service.sessions(of: event)
        let registrations = try await EventRegistration.query(on: req.db).filter(\.$event.$id == eventID).sort(\.$position).with(\.$user).all()
        let registered = registrations.filter { $0.status == .registered }
        let waiting = registrations.filter { $0.status == .waitlisted }
        let mine = actor.flatMap { actor in registrations.first { $0.$user.id == actor.userID && $0.status != .cancelled } }
        let trainers = try await EventTrainer.query(on: req.db).filter(\.$event.$id == eventID).with(\.$user).all()
        let canRun = try await actor.asyncMap { try await service.canRun(event, $0) } ?? false
        let canEdit = try await actor.asyncMap { try await service.canEdit(event, $0) } ?? false
        let institution = try await Institution.find(event.$institution.id, on: req.db)
        let module = try await event.$module.id.asyncMap { try await TrainingModule.find($0, on: req.db) } ?? nil
        let evaluations = try await EventEvaluation.query(on: req.db).filter(\.$event.$id == eventID).all()
        let completions = try await TrainingCompletion.query(on: req.db).filter(\.$event.$id == eventID).all()
        let certificates = completions.isEmpty ? [] : try await Certificate.query(on: req.db).filter(\.$completion.$id ~~ completions.compactMap(\.id)).all()
        let now = Date()
        let active = sessions.filter { !$0.cancelled }
        let iso = ISO8601DateFormatter()
        let open = event.status == .scheduled && TrainingRules.registrationOpen(now: now, opens: event.registrationOpens,
                                                                                closes: event.registrationCloses, firstSessionStart: active.first?.startsAt)
        var participants: [ShowView.Participant] = []
        if canRun {
            let institutions = try await Institution.query(on: req.db).all()
            let held = active.filter { $0.startsAt <= now }.compactMap(\.id)
            let attendance = held.isEmpty ? [] : try await SessionAttendance.query(on: req.db).filter(\.$session.$id ~~ held).filter(\.$mark == .present).all()
            for registration in registrations where registration.status != .cancelled {
                let userID = registration.$user.id
                let completion = completions.first { $0.$user.id == userID }
                let certificate = completion.flatMap { completion in certificates.first { $0.$completion.id == completion.id } }
                participants.append(.init(
                    registrationID: registration.id!.uuidString, name: registration.user.name, email: registration.user.email,
                    institution: institutions.first { $0.id == registration.user.$institution.id }?.shortName ?? "",
                    status: req.t(registration.status.catalogKey), statusCode: registration.status.rawValue,
                    attended: "\(attendance.filter { $0.userID == userID }.count)/\(held.count)",
                    evaluated: evaluations.contains { $0.userID == userID },
                    certificateHref: certificate.map { "/certificates/\($0.code)" }, pending: registration.status == .pending))
            }
        }
        let myCompletion = actor.flatMap { actor in completions.first { $0.$user.id == actor.userID } }
        let myCertificate = myCompletion.flatMap { completion in certificates.first { $0.$completion.id == completion.id } }
        let seeFeedback = canRun
        let means = TrainingRules.itemMeans(evaluations.map(\.ratings), items: EventEvaluation.items.count)
        var window: String?
        if event.registrationOpens != nil || event.registrationCloses != nil {
            window = [event.registrationOpens.map { EventTime.display($0, in: zone, req.locale) } ?? "…",
                      event.registrationCloses.map { EventTime.display($0, in: zone, req.locale) } ?? "…"].joined(separator: " – ")
        }
        return ShowView(
            id: eventID.uuidString, title: event.title, kind: req.t(event.kind.catalogKey), description: Markdown.html(event.description),
            institution: institution.map { localized($0.names, req.locale) } ?? "",
            module: module.map { localized($0.title, req.locale) }, moduleHref: module.map { "/training/modules/\($0.slug)" },
            requestHref: event.requestID.map { "/requests/\($0.uuidString)" },
            language: event.language, timeZone: event.timeZone,
            sessions: sessions.enumerated().map { index, session in
                let end = Calendar(identifier: .gregorian).isDate(session.startsAt, inSameDayAs: session.endsAt)
                    ? { let f = DateFormatter(); f.timeZone = zone; f.locale = req.locale.formattingLocale; f.timeStyle = .short; f.dateStyle = .none; return f.string(from: session.endsAt) }()
                    : EventTime.display(session.endsAt, in: zone, req.locale)
                return .init(id: session.id!.uuidString, number: index + 1,
                             when: "\(EventTime.display(session.startsAt, in: zone, req.locale)) – \(end)",
                             startISO: iso.string(from: session.startsAt), endISO: iso.string(from: session.endsAt),
                             venue: session.venue, onlineURL: (mine?.status == .registered || canRun) ? session.onlineURL : (session.onlineURL.isEmpty ? "" : "…"),
                             cancelled: session.cancelled,
                             rollCallHref: "/events/\(eventID.uuidString)/sessions/\(session.id!.uuidString)/roll-call",
                             qrHref: "/events/\(eventID.uuidString)/sessions/\(session.id!.uuidString)/qr")
            },
            trainers: trainers.map(\.user.name).sorted(),
            capacity: event.capacity, registeredCount: registered.count, waitingCount: waiting.count,
            hours: req.formatNumber(event.hours, fractionDigits: event.hours == event.hours.rounded() ? 0 : 1),
            rule: req.t(event.requiresEvaluation ? "training.rule_with_evaluation" : "training.rule", String(Int((event.minAttendance * 100).rounded()))),
            window: window, cancelled: event.status == .cancelled, registrationOpen: open, full: registered.count >= event.capacity,
            signedIn: actor != nil,
            myStatus: mine.map { req.t($0.status.catalogKey) }, myStatusCode: mine?.status.rawValue,
            myPosition: mine?.status == .waitlisted ? (waiting.firstIndex { $0.id == mine?.id }.map { $0 + 1 }) : nil,
            canEvaluate: mine?.status == .registered && (active.first.map { $0.startsAt <= now } ?? false),
            evaluated: actor.map { actor in evaluations.contains { $0.userID == actor.userID } } ?? false,
            myCertificateHref: myCertificate.map { "/certificates/\($0.code)" },
            canRun: canRun, canEdit: canEdit, participants: participants,
            evaluations: evaluations.count,
            itemMeans: seeFeedback ? EventEvaluation.items.enumerated().map { index, item in
                .init(label: req.t("training.item.\(item)"), mean: means[index].map { req.formatNumber($0, fractionDigits: 1) } ?? "–",
                      percent: Int(((means[index] ?? 0) / 5 * 100).rounded()))
            } : [],
            overall: seeFeedback ? TrainingRules.overallMean(evaluations.map(\.ratings)).map { req.formatNumber($0, fractionDigits: 1) } : nil,
            comments: seeFeedback ? evaluations.map(\.comment).filter { !$0.isEmpty } : [],
            form: form, calendarHref: "/events/\(eventID.uuidString)/calendar.ics",
            institutionCalendarHref: "/calendars/institutions/\(event.$institution.id.uuidString)")
    }

    func show(req: Request) async throws -> Response {
        let event = try await find(req)
        return try await req.page("training/event", titleKey: "training.event_title", titleArguments: [event.title], try await showView(req, event))
    }

    /// Runs an action of the event page: a refusal becomes a message on the event page, field errors re-render it.
    func act(_ req: Request, success: String, _ body: (TrainingService, TrainingEvent, Actor) async throws -> Void) async throws -> Response {
        let actor = try await req.requireActor()
        let event = try await find(req)
        do {
            try await body(req.training, event, actor)
            req.flash("success", success)
        } catch let error as TrainingError {
            req.flash("error", error.catalogKey)
        } catch let errors as FieldErrors {
            var state = FormState(values: ["participant_email": (try? req.content.get(String.self, at: "participant_email")) ?? ""])
            for (field, key) in errors.fields { state.add(field, req.t(key)) }
            return try await req.page("training/event", titleKey: "training.event_title", titleArguments: [event.title],
                                      try await showView(req, event, form: state), status: .unprocessableEntity)
        }
        return req.seeOther("/events/\(event.id!.uuidString)")
    }

    func register(req: Request) async throws -> Response {
        let waitlist = (try? req.content.get(String.self, at: "waitlist")) == "1"
        let user = try req.auth.require(User.self)
        return try await act(req, success: "training.registered_done") { service, event, _ in
            let registration = try await service.register(event, user: user, waitlist: waitlist)
            if registration.status == .waitlisted { req.flash("info", "training.waitlisted_done") }
            if registration.status == .pending { req.flash("info", "training.pending_done") }
        }
    }

    func cancelRegistration(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        return try await act(req, success: "training.cancelled_done") { service, event, _ in try await service.cancel(event, user: user) }
    }

    func addParticipant(req: Request) async throws -> Response {
        let email = (try? req.content.get(String.self, at: "participant_email")) ?? ""
        return try await act(req, success: "training.participant_added") { service, event, actor in
            _ = try await service.addParticipant(event, email: email, by: actor)
        }
    }

    func decide(req: Request) async throws -> Response {
        let approve = (try? req.content.get(String.self, at: "decision")) == "approve"
        guard let registrationID = req.parameters.get("registrationID", as: UUID.self) else { throw Abort(.notFound) }
        return try await act(req, success: approve ? "training.approved_done" : "training.declined_done") { service, event, actor in
            try await service.decide(event, registrationID: registrationID, approve: approve, by: actor)
        }
    }

    // MARK: roll call and check-in

    struct RollCallView: Encodable {
        struct Row: Encodable {
            var userID: String
            var name: String
            var institution: String
            var marks: [Choice]
        }
        var eventTitle: String
        var eventHref: String
        var session: String
        var action: String
        var rows: [Row]
        var qrHref: String
    }

    func rollCall(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let event = try await find(req)
        guard try await req.training.canRun(event, actor) else { throw Forbidden() }
        let session = try await session(req, event)
        let zone = TimeZone(identifier: event.timeZone) ?? .gmt
        let registrations = try await EventRegistration.query(on: req.db).filter(\.$event.$id == event.requireID())
            .filter(\.$status == .registered).with(\.$user).all()
        let marks = try await SessionAttendance.query(on: req.db).filter(\.$session.$id == session.requireID()).all()
        let institutions = try await Institution.query(on: req.db).all()
        let rows = registrations.sorted { $0.user.name < $1.user.name }.map { registration -> RollCallView.Row in
            let current = marks.first { $0.userID == registration.$user.id }?.mark
            return .init(userID: registration.$user.id.uuidString, name: registration.user.name,
                         institution: institutions.first { $0.id == registration.user.$institution.id }?.shortName ?? "",
                         marks: SessionAttendance.Mark.allCases.map { Choice(value: $0.rawValue, label: req.t($0.catalogKey), selected: $0 == current) })
        }
        let base = "/events/\(event.id!.uuidString)/sessions/\(session.id!.uuidString)"
        return try await req.page("training/roll-call", titleKey: "training.roll_call_title", titleArguments: [event.title], RollCallView(
            eventTitle: event.title, eventHref: "/events/\(event.id!.uuidString)",
            session: EventTime.display(session.startsAt, in: zone, req.locale), action: base + "/roll-call", rows: rows, qrHref: base + "/qr"))
    }

    func saveRollCall(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let event = try await find(req)
        let session = try await session(req, event)
        var marks: [UUID: SessionAttendance.Mark] = [:]
        for (name, value) in Responding.formPairs(req.body.string ?? "") where name.hasPrefix("mark_") {
            if let id = UUID(uuidString: String(name.dropFirst(5))), let mark = SessionAttendance.Mark(rawValue: value) { marks[id] = mark }
        }
        try await req.training.recordAttendance(event, session: session, marks: marks, by: actor)
        req.flash("success", "training.attendance_saved", String(marks.count))
        return req.seeOther("/events/\(event.id!.uuidString)/sessions/\(session.id!.uuidString)/roll-call")
    }

    struct CodeView: Encodable {
        var eventTitle: String
        var eventHref: String
        var session: String
        var url: String
        var svg: String
    }

    /// The session's check-in QR code, for a projector or a printed sheet at the door.
    func checkInCode(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let event = try await find(req)
        guard try await req.training.canRun(event, actor) else { throw Forbidden() }
        let session = try await session(req, event)
        let zone = TimeZone(identifier: event.timeZone) ?? .gmt
        let url = "\(req.application.config.baseURL)/events/\(event.id!.uuidString)/sessions/\(session.id!.uuidString)/check-in?code=\(session.checkinCode)"
        return try await req.page("training/check-in-code", titleKey: "training.qr_title", titleArguments: [event.title], CodeView(
            eventTitle: event.title, eventHref: "/events/\(event.id!.uuidString)", session: EventTime.display(session.startsAt, in: zone, req.locale),
            url: url, svg: QRCode(url)?.svg(label: req.t("training.qr_label"), pixels: 320) ?? ""))
    }

    struct CheckInView: Encodable {
        var eventTitle: String
        var eventHref: String
        var session: String
        var action: String
        var code: String
    }

    func checkInPage(req: Request) async throws -> Response {
        let event = try await find(req)
        let session = try await session(req, event)
        let zone = TimeZone(identifier: event.timeZone) ?? .gmt
        return try await req.page("training/check-in", titleKey: "training.check_in_title", titleArguments: [event.title], CheckInView(
            eventTitle: event.title, eventHref: "/events/\(event.id!.uuidString)", session: EventTime.display(session.startsAt, in: zone, req.locale),
            action: "/events/\(event.id!.uuidString)/sessions/\(session.id!.uuidString)/check-in",
            code: (try? req.query.get(String.self, at: "code")) ?? ""))
    }

    func checkIn(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        let event = try await find(req)
        let session = try await session(req, event)
        let code = (try? req.content.get(String.self, at: "code")) ?? ""
        do {
            try await req.training.checkIn(event, session: session, code: code, user: user)
            req.flash("success", "training.checked_in")
        } catch let error as TrainingError {
            req.flash("error", error.catalogKey)
        }
        return req.seeOther("/events/\(event.id!.uuidString)")
    }

    // MARK: evaluation

    struct EvaluationView: Encodable {
        struct Item: Encodable { var name: String; var label: String; var options: [Choice]; var error: String? }
        var eventTitle: String
        var eventHref: String
        var action: String
        var items: [Item]
        var form: FormState
    }

    func evaluationView(_ req: Request, _ event: TrainingEvent, ratings: [Int], comment: String, errors: FieldErrors?) -> EvaluationView {
        var form = FormState(values: ["comment": comment])
        for (field, key) in errors?.fields ?? [] { form.add(field, req.t(key)) }
        return EvaluationView(
            eventTitle: event.title, eventHref: "/events/\(event.id!.uuidString)", action: "/events/\(event.id!.uuidString)/evaluation",
            items: EventEvaluation.items.enumerated().map { index, item in
                .init(name: "rating_\(item)", label: req.t("training.item.\(item)"),
                      options: (1...5).map { Choice(value: String($0), label: req.t("training.rating.\($0)"), selected: ratings.indices.contains(index) && ratings[index] == $0) },
                      error: form.errors["rating_\(item)"])
            }, form: form)
    }

    func evaluationForm(req: Request) async throws -> Response {
        let event = try await find(req)
        return try await req.page("training/evaluation", titleKey: "training.evaluation_title", titleArguments: [event.title],
                                  evaluationView(req, event, ratings: [], comment: "", errors: nil))
    }

    func evaluate(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        let event = try await find(req)
        let pairs = Responding.formPairs(req.body.string ?? "")
        let ratings = EventEvaluation.items.map { item in pairs.first { $0.0 == "rating_\(item)" }.flatMap { Int($0.1) } ?? 0 }
        let comment = pairs.first { $0.0 == "comment" }?.1 ?? ""
        do {
            try await req.training.evaluate(event, ratings: ratings, comment: comment, user: user)
            req.flash("success", "training.evaluation_saved")
        } catch let errors as FieldErrors {
            return try await req.page("training/evaluation", titleKey: "training.evaluation_title", titleArguments: [event.title],
                                      evaluationView(req, event, ratings: ratings, comment: comment, errors: errors), status: .unprocessableEntity)
        } catch let error as TrainingError {
            req.flash("error", error.catalogKey)
        }
        return req.seeOther("/events/\(event.id!.uuidString)")
    }

    // MARK: my trainings

    struct MyView: Encodable {
        struct Row: Encodable { var href: String; var title: String; var when: String; var status: String }
        struct CertificateRow: Encodable { var href: String; var title: String; var issued: String; var revoked: Bool }
        var registrations: [Row]
        var delivered: [Row]
        var certificates: [CertificateRow]
        var calendarURL: String?
    }

    func myTrainings(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        let userID = try user.requireID()
        let registrations = try await EventRegistration.query(on: req.db).filter(\.$user.$id == userID).filter(\.$status != .cancelled).with(\.$event).all()
        var rows: [MyView.Row] = []
        for registration in registrations {
            let first = try await req.training.sessions(of: registration.event).first
            rows.append(.init(href: "/events/\(registration.$event.id.uuidString)", title: registration.event.title,
                              when: first.map { EventTime.display($0.startsAt, in: TimeZone(identifier: registration.event.timeZone) ?? .gmt, req.locale) } ?? "",
                              status: req.t(registration.status.catalogKey)))
        }
        let delivered = try await EventTrainer.query(on: req.db).filter(\.$user.$id == userID).with(\.$event).all().map {
            MyView.Row(href: "/events/\($0.$event.id.uuidString)", title: $0.event.title, when: "", status: req.t($0.event.kind.catalogKey))
        }
        let completions = try await TrainingCompletion.query(on: req.db).filter(\.$user.$id == userID).all()
        let certificates = completions.isEmpty ? [] : try await Certificate.query(on: req.db).filter(\.$completion.$id ~~ completions.compactMap(\.id))
            .sort(\.$issuedAt, .descending).all()
        return try await req.page("training/mine", titleKey: "training.mine_title", MyView(
            registrations: rows, delivered: delivered,
            certificates: certificates.map { .init(href: "/certificates/\($0.code)", title: $0.eventTitle, issued: req.formatDate($0.issuedAt), revoked: $0.revokedAt != nil) },
            calendarURL: try await CalendarFeed.query(on: req.db).filter(\.$userID == userID).first()
                .map { "\(req.application.config.baseURL)/calendars/people/\($0.token)" }))
    }
}
