import Fluent
import Vapor

extension Request {
    var coordination: RequestService {
        RequestService(db: db, mailer: application.mailer, catalog: application.catalog, baseURL: application.config.baseURL)
    }
}

/// Requests for Knowledge: the guided form, the document (printable, Markdown download), the coordinator's ranked
/// experts with the reasons, offers, the expert's answers, delivery and evaluation, and the audit trail.
struct RequestRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let requests = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("requests")
        requests.get(use: index)
        requests.get("new", use: newForm)
        requests.post(use: create)
        requests.get(":id", use: show)
        requests.get(":id", "edit", use: editForm)
        requests.post(":id", "edit", use: update)
        requests.get(":id", "document.md", use: markdown)
        requests.post(":id", "submit", use: submit)
        requests.post(":id", "triage", use: triage)
        requests.post(":id", "offer", use: offer)
        requests.post(":id", "plan", use: plan)
        requests.post(":id", "deliver", use: deliver)
        requests.post(":id", "evaluate", use: evaluate)
        requests.post(":id", "withdraw", use: withdraw)
        requests.post(":id", "resolve", use: resolve)
        requests.post(":id", "listing", use: respondToListing)
        requests.post(":id", "listing", ":responseID", "reply", use: replyToListing)
        let offers = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("offers")
        offers.get(use: myOffers)
        offers.post(":offerID", "answer", use: answer)
    }

    func find(_ req: Request, _ actor: Actor) async throws -> KnowledgeRequest {
        guard let id = req.parameters.get("id", as: UUID.self), let request = try await KnowledgeRequest.find(id, on: req.db),
              try await req.coordination.canRead(request, actor) else { throw Abort(.notFound) }
        return request
    }

    // MARK: list

    struct IndexView: Encodable {
        struct Row: Encodable {
            var href: String
            var title: String
            var state: String
            var stateCode: String
            var level: String
            var institution: String
            var updated: String
        }
        var mine: [Row]
        var queue: [Row]
        var openListing: [Row]
        var isCoordinator: Bool
    }

    func index(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let institutions = try await Institution.query(on: req.db).all()
        func row(_ request: KnowledgeRequest) -> IndexView.Row {
            .init(href: "/requests/\(request.id!.uuidString)", title: request.title, state: req.t(request.workflowState.catalogKey),
                  stateCode: request.state, level: req.t("rfk.level.\(request.level)"),
                  institution: institutions.first { $0.id == request.$institution.id }.map { localized($0.names, req.locale) } ?? "",
                  updated: req.formatDate(request.updatedAt))
        }
        let mine = try await KnowledgeRequest.query(on: req.db).filter(\.$requester.$id == actor.userID).sort(\.$updatedAt, .descending).all()
        var queue: [IndexView.Row] = []
        var listing: [IndexView.Row] = []
        let open = try await KnowledgeRequest.query(on: req.db)
            .filter(\.$state ~~ RequestWorkflow.openStates.subtracting([.draft]).map(\.rawValue)).sort(\.$updatedAt, .descending).limit(500).all()
        for request in open {
            if try await req.coordination.coordinates(request, actor) { queue.append(row(request)) }
            else if request.level >= 4 && request.$requester.id != actor.userID { listing.append(row(request)) }
        }
        return try await req.page("requests/index", titleKey: "rfk.title",
                                  IndexView(mine: mine.map(row), queue: queue, openListing: listing, isCoordinator: actor.isCoordinator))
    }

    // MARK: form

    struct FormView: Encodable {
        var form: FormState
        var action: String
        var isNew: Bool
        var areas: [Choice]
        var formats: [Choice]
        var languages: [Choice]
        var urgencies: [Choice]
        var priorities: [Choice]
        var consent: Bool
    }

    static func input(from pairs: [(String, String)]) -> RequestInput {
        var input = RequestInput()
        for (name, value) in pairs {
            switch name {
            case "title": input.title = value
            case "gap": input.gap = value
            case "outcomes": input.outcomes = value
            case "areas[]": input.areas.append(value)
            case "linked_priority": input.linkedPriority = value
            case "audience_role": input.audienceRole = value
            case "audience_size": input.audienceSize = value
            case "formats[]": input.formats.append(value)
            case "languages[]": input.languages.append(value)
            case "window_start": input.windowStart = value
            case "window_end": input.windowEnd = value
            case "urgency": input.urgency = value
            case "constraints": input.constraints = value
            case "earlier_attempts": input.earlierAttempts = value
            case "consent_to_share": input.consentToShare = value == "on" || value == "1"
            default: continue
            }
        }
        return input
    }

    static func input(from request: KnowledgeRequest) -> RequestInput {
        RequestInput(title: request.title, gap: request.gap, outcomes: request.outcomes, areas: request.areas,
                     linkedPriority: request.linkedPriority ?? "", audienceRole: request.audienceRole,
                     audienceSize: String(request.audienceSize), formats: request.formats, languages: request.languages,
                     windowStart: request.windowStart.map(CampaignService.day) ?? "", windowEnd: request.windowEnd.map(CampaignService.day) ?? "",
                     urgency: request.urgency.rawValue, constraints: request.constraints, earlierAttempts: request.earlierAttempts,
                     consentToShare: request.consentToShare)
    }

    /// Validated priorities published for the person's institution, as "campaign:area" choices (linking one pre-fills its area).
    func priorityChoices(_ req: Request, _ actor: Actor, selected: String) async throws -> [Choice] {
        guard let home = actor.home else { return [] }
        var choices = [Choice(value: "", label: req.t("rfk.no_priority"), selected: selected.isEmpty)]
        let areas = try await Area.query(on: req.db).all()
        for priority in try await PublishedPriorities(db: req.db).forInstitution(home.institutionID) {
            let value = "\(priority.campaignID.uuidString):\(priority.area)"
            let name = areas.first { $0.code == priority.area }.map { localized($0.names, req.locale) } ?? priority.area
            choices.append(Choice(value: value, label: "\(priority.rank). \(priority.area) \(name) · \(priority.campaignTitle)", selected: value == selected))
        }
        return choices
    }

    func formView(_ req: Request, _ actor: Actor, _ input: RequestInput, errors: FieldErrors?, action: String, isNew: Bool) async throws -> FormView {
        var form = FormState(values: ["title": input.title, "gap": input.gap, "outcomes": input.outcomes, "audience_role": input.audienceRole,
                                      "audience_size": input.audienceSize, "window_start": input.windowStart, "window_end": input.windowEnd,
                                      "constraints": input.constraints, "earlier_attempts": input.earlierAttempts])
        for (field, key) in errors?.fields ?? [] { form.add(field, req.t(key)) }
        let areas = try await Area.query(on: req.db).sort(\.$position).all()
        let languages = try await LanguageEntry.query(on: req.db).all()
        return FormView(
            form: form, action: action, isNew: isNew,
            areas: areas.map { Choice(value: $0.code, label: "\($0.code) · \(localized($0.names, req.locale))", selected: input.areas.contains($0.code)) },
            formats: RequestService.formats.map { Choice(value: $0, label: req.t("rfk.format.\($0)"), selected: input.formats.contains($0)) },
            languages: languages.map { Choice(value: $0.tag, label: localized($0.names, req.locale), selected: input.languages.contains($0.tag)) },
            urgencies: KnowledgeRequest.Urgency.allCases.map { Choice(value: $0.rawValue, label: req.t("rfk.urgency.\($0.rawValue)"), selected: $0.rawValue == input.urgency) },
            priorities: try await priorityChoices(req, actor, selected: input.linkedPriority),
            consent: input.consentToShare)
    }

    func newForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        var input = RequestInput()
        input.languages = [req.locale.rawValue]
        // Linking a validated priority pre-fills its area.
        if let priority = try? req.query.get(String.self, at: "priority"), let area = priority.split(separator: ":").last {
            input.linkedPriority = priority
            input.areas = [String(area)]
        }
        return try await req.page("requests/form", titleKey: "rfk.new", try await formView(req, actor, input, errors: nil, action: "/requests", isNew: true))
    }

    func create(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        var input = Self.input(from: Responding.formPairs(req.body.string ?? ""))
        if input.areas.isEmpty, let area = input.linkedPriority.split(separator: ":").last { input.areas = [String(area)] }
        do {
            let request = try await req.coordination.create(input, by: actor)
            req.flash("success", "rfk.saved")
            return req.seeOther("/requests/\(request.id!.uuidString)")
        } catch let errors as FieldErrors {
            return try await req.page("requests/form", titleKey: "rfk.new",
                                      try await formView(req, actor, input, errors: errors, action: "/requests", isNew: true), status: .unprocessableEntity)
        }
    }

    func editForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let request = try await find(req, actor)
        guard request.$requester.id == actor.userID else { throw Forbidden() }
        return try await req.page("requests/form", titleKey: "rfk.edit",
                                  try await formView(req, actor, Self.input(from: request), errors: nil, action: "/requests/\(request.id!.uuidString)/edit", isNew: false))
    }

    func update(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let request = try await find(req, actor)
        let pairs = Responding.formPairs(req.body.string ?? "")
        let input = Self.input(from: pairs)
        do {
            try await req.coordination.update(request, input, by: actor)
            if pairs.contains(where: { $0.0 == "then" && $0.1 == "submit" }) {
                try await req.coordination.submit(request, by: actor)
                req.flash("success", "rfk.submitted")
            } else {
                req.flash("success", "rfk.saved")
            }
            return req.seeOther("/requests/\(request.id!.uuidString)")
        } catch let errors as FieldErrors {
            return try await req.page("requests/form", titleKey: "rfk.edit",
                                      try await formView(req, actor, input, errors: errors, action: "/requests/\(request.id!.uuidString)/edit", isNew: false),
                                      status: .unprocessableEntity)
        } catch let error as CoordinationError {
            req.flash("error", error.catalogKey)
            return req.seeOther("/requests/\(request.id!.uuidString)")
        }
    }

    // MARK: the request page

    struct ShowView: Encodable {
        struct Item: Encodable { var label: String; var value: String }
        struct Candidate: Encodable {
            var expertID: String
            var name: String
            var institution: String
            var score: String
            var above: Bool
            var why: [Item]
        }
        struct Trail: Encodable { var when: String; var who: String; var what: String; var note: String; var level: String }
        struct Suggestion: Encodable { var id: String; var href: String; var title: String; var snippet: String }
        struct OfferRow: Encodable { var expert: String; var state: String; var expires: String; var score: String; var reason: String? }
        struct Contact: Encodable { var role: String; var name: String; var email: String }
        struct ListingAnswer: Encodable {
            var id: String; var name: String; var institution: String; var message: String; var reply: String?
            var expertID: String?; var when: String
        }
        var id: String
        var title: String
        var state: String
        var stateCode: String
        var level: String
        var facts: [Item]
        var sections: [Item]
        var requester: String
        var anonymised: Bool
        var trail: [Trail]
        var candidates: [Candidate]
        var offers: [OfferRow]
        var suggestions: [Suggestion]
        var contacts: [Contact]
        var canEdit: Bool
        var canSubmit: Bool
        var canTriage: Bool
        var canOffer: Bool
        var canPlan: Bool
        var canDeliver: Bool
        var canEvaluate: Bool
        var canWithdraw: Bool
        var canResolve: Bool
        /// The draft's link, for those who may open it (its expert); the requester only learns that it exists.
        var knowledgeCase: String?
        var knowledgeCaseDrafted: Bool
        /// "Plan a short training" from an accepted or planned request, for people who may create events.
        var shortTrainingHref: String?
        /// Training events that answer this request.
        var events: [Suggestion]
        var form: FormState
        var formats: [Choice]
        /// At the open listing: may this person answer, what they answered, and (owner, coordinator) all answers.
        var listed: Bool
        var canRespond: Bool
        var myAnswer: ListingAnswer?
        var answers: [ListingAnswer]
        var canReply: Bool
    }

    func showView(_ req: Request, _ request: KnowledgeRequest, _ actor: Actor, form: FormState = FormState()) async throws -> ShowView {
        let service = req.coordination
        let roles = try await service.roles(request, actor)
        let isRequester = roles.contains(.requester)
        let isCoordinator = roles.contains(.coordinator)
        let state = request.workflowState
        let id = request.id!.uuidString
        let areas = try await Area.query(on: req.db).all()
        let languages = try await LanguageEntry.query(on: req.db).all()
        let institution = try await Institution.find(request.$institution.id, on: req.db)
        let requesterUser = try await User.find(request.$requester.id, on: req.db)
        // At the open listing, a request is anonymised for others unless its requester agreed to share it.
        let place = try await service.place(of: request, on: req.db)
        let replied = roles.isEmpty ? try await service.ownerReplied(request, to: actor.userID) : false
        let anonymised = roles.isEmpty && !request.consentToShare && !actor.canManage(place) && !replied

        var facts: [ShowView.Item] = [
            .init(label: req.t("rfk.field.areas"), value: request.areas.map { code in areas.first { $0.code == code }.map { "\(code) · \(localized($0.names, req.locale))" } ?? code }.joined(separator: ", ")),
            .init(label: req.t("rfk.field.formats"), value: request.formats.map { req.t("rfk.format.\($0)") }.joined(separator: ", ")),
            .init(label: req.t("rfk.field.languages"), value: request.languages.map { tag in languages.first { $0.tag == tag }.map { localized($0.names, req.locale) } ?? tag }.joined(separator: ", ")),
            .init(label: req.t("rfk.field.audience"), value: "\(request.audienceRole) (\(request.audienceSize))"),
            .init(label: req.t("rfk.field.window"), value: [request.windowStart, request.windowEnd].compactMap { $0.map { req.formatDate($0) } }.joined(separator: " – ")),
            .init(label: req.t("rfk.field.urgency"), value: req.t("rfk.urgency.\(request.urgency.rawValue)")),
        ]
        if !anonymised { facts.insert(.init(label: req.t("rfk.field.institution"), value: institution.map { localized($0.names, req.locale) } ?? ""), at: 0) }
        if let planned = request.plannedOn { facts.append(.init(label: req.t("rfk.field.planned"), value: "\(req.formatDate(planned)) · \(req.t("rfk.format.\(request.plannedFormat ?? "workshop")"))")) }
        if let rating = request.rating { facts.append(.init(label: req.t("rfk.field.rating"), value: "\(rating) / 5")) }
        let sections: [ShowView.Item] = [
            .init(label: req.t("rfk.field.gap"), value: request.gap),
            .init(label: req.t("rfk.field.outcomes"), value: request.outcomes),
            .init(label: req.t("rfk.field.constraints"), value: request.constraints),
            .init(label: req.t("rfk.field.earlier_attempts"), value: request.earlierAttempts),
        ].filter { !$0.value.isEmpty }

        // The trail: every transition, who and what; coordinators and the requester see it.
        var trail: [ShowView.Trail] = []
        if isRequester || isCoordinator || actor.isAdmin {
            let events = try await RequestEvent.query(on: req.db).filter(\.$request.$id == request.requireID()).sort(\.$createdAt).all()
            let people = try await User.query(on: req.db).filter(\.$id ~~ events.compactMap(\.actorID)).all()
            trail = events.map { event in
                let what: String
                if let row = RequestWorkflow.transitions.first(where: { $0.event.rawValue == event.event && $0.from.contains(RfKState(rawValue: event.fromState) ?? .draft) }) {
                    what = req.t(row.records)
                } else if ["sla_warning", "listing_response"].contains(event.event) {
                    what = req.t(event.note)
                } else {
                    what = req.t("rfk.history.refused")
                }
                let note = ["sla_warning", "listing_response"].contains(event.event) ? "" : (event.note.hasPrefix("rfk.") ? req.t(event.note) : event.note)
                return .init(when: req.formatDate(event.createdAt, time: true),
                             who: event.actorID.flatMap { id in people.first { $0.id == id }?.name } ?? req.t("rfk.actor.\(event.actorKind)"),
                             what: what, note: note, level: req.t("rfk.level.\(event.level)"))
            }
        }

        // The coordinator's ranked experts with every component.
        var candidates: [ShowView.Candidate] = []
        let canOffer = isCoordinator && [.matching, .offered].contains(state)
        if canOffer {
            let (results, profiles, _) = try await service.ranking(request, on: req.db)
            let users = try await User.query(on: req.db).filter(\.$id ~~ profiles.values.map(\.$user.id)).all()
            let institutions = try await Institution.query(on: req.db).all()
            for result in results.prefix(15) {
                guard let profile = profiles[result.expertID] else { continue }
                let c = result.components, w = result.contributions
                func item(_ key: String, _ raw: Double, _ weighted: Double) -> ShowView.Item {
                    .init(label: req.t("rfk.component.\(key)"), value: "\(req.formatNumber(raw, fractionDigits: 2)) → \(req.formatNumber(weighted, fractionDigits: 3))")
                }
                candidates.append(.init(
                    expertID: result.expertID.uuidString, name: users.first { $0.id == profile.$user.id }?.name ?? "?",
                    institution: institutions.first { $0.id == profile.$institution.id }.map { localized($0.names, req.locale) } ?? "",
                    score: req.formatNumber(result.score, fractionDigits: 2), above: result.aboveThreshold,
                    why: [item("topic", c.topic, w.topic), item("language", c.language, w.language), item("format", c.format, w.format),
                          item("availability", c.availability, w.availability), item("quality", c.quality, w.quality),
                          item("proximity", c.proximity, w.proximity), item("load", c.load, -w.load)]))
            }
        }
        var offers: [ShowView.OfferRow] = []
        if isCoordinator || isRequester {
            let rows = try await RequestOffer.query(on: req.db).filter(\.$request.$id == request.requireID()).sort(\.$createdAt).all()
            let profiles = try await ExpertProfile.query(on: req.db).filter(\.$id ~~ rows.map(\.$expert.id)).all()
            let users = try await User.query(on: req.db).filter(\.$id ~~ profiles.map(\.$user.id)).all()
            offers = rows.map { offer in
                let profile = profiles.first { $0.id == offer.$expert.id }
                let name = isCoordinator ? (users.first { $0.id == profile?.$user.id }?.name ?? "?") : req.t("rfk.an_expert")
                return .init(expert: name, state: req.t("rfk.offer.\(offer.state.rawValue)"), expires: req.formatDate(offer.expiresAt, time: true),
                             score: req.formatNumber(offer.score, fractionDigits: 2), reason: offer.overrideReason)
            }
        }
        // Reuse first: published records that fit, for the requester while the request is still open to them.
        var suggestions: [ShowView.Suggestion] = []
        let canResolve = isRequester && [.submitted, .needsInfo, .matching].contains(state)
        if canResolve {
            let scope = try await req.repository.scope(for: actor)
            let words = request.title.split(whereSeparator: { (c: Character) in !c.isLetter }).map(String.init).filter { $0.count > 3 }.prefix(4).joined(separator: " OR ")
            var result = try await req.application.searchIndex.search(
                SearchRequest(text: words, filters: ["area": request.areas], limit: 5, scope: scope, countsFacets: false), on: req.db)
            if result.hits.isEmpty {
                result = try await req.application.searchIndex.search(SearchRequest(text: "", filters: ["area": request.areas], sort: .date, limit: 5, scope: scope, countsFacets: false), on: req.db)
            }
            suggestions = result.hits.map { hit in
                ShowView.Suggestion(id: hit.recordID.uuidString, href: "/repository/\(hit.recordID.uuidString)", title: hit.title, snippet: hit.snippet)
            }
        }
        var contacts: [ShowView.Contact] = []
        if try await service.contactsVisible(request, to: actor), let offer = try await service.acceptedOffer(request, on: req.db),
           let profile = try await ExpertProfile.find(offer.$expert.id, on: req.db), let expertUser = try await User.find(profile.$user.id, on: req.db) {
            if let requesterUser { contacts.append(.init(role: req.t("rfk.requester"), name: requesterUser.name, email: requesterUser.email)) }
            contacts.append(.init(role: req.t("rfk.expert"), name: expertUser.name, email: expertUser.email))
        }
        var knowledgeCase: String?
        if let caseID = request.knowledgeCaseID, let record = try await RepositoryRecord.find(caseID, on: req.db),
           try await req.repository.canEdit(record, by: actor) {
            knowledgeCase = "/repository/\(caseID.uuidString)"
        }
        // The open listing: answers from members, the owner's replies.
        let listed = service.isListed(request)
        var answers: [ShowView.ListingAnswer] = []
        var myAnswer: ShowView.ListingAnswer?
        let rows = try await ListingResponse.query(on: req.db).filter(\.$request.$id == request.requireID()).sort(\.$createdAt).all()
        if !rows.isEmpty {
            let people = try await User.query(on: req.db).filter(\.$id ~~ rows.map(\.responderID)).all()
            let profiles = try await ExpertProfile.query(on: req.db).filter(\.$user.$id ~~ rows.map(\.responderID)).filter(\.$status == .active).all()
            let homes = try await Institution.query(on: req.db).filter(\.$id ~~ people.compactMap { $0.$institution.id }).all()
            for row in rows {
                let person = people.first { $0.id == row.responderID }
                let answer = ShowView.ListingAnswer(
                    id: row.id!.uuidString, name: person?.name ?? "?",
                    institution: homes.first { $0.id == person?.$institution.id }.map { localized($0.names, req.locale) } ?? "",
                    message: row.message, reply: row.reply,
                    expertID: profiles.first { $0.$user.id == row.responderID }?.id?.uuidString,
                    when: req.formatDate(row.createdAt, time: true))
                if row.responderID == actor.userID { myAnswer = answer }
                if isRequester || isCoordinator { answers.append(answer) }
            }
        }
        let involved = roles.contains(.expert) || isCoordinator
        var canTrain = false
        if involved && [.accepted, .planned].contains(state) { canTrain = try await !EventRoutes().creatableInstitutions(req, actor).isEmpty }
        let answeringEvents = try await TrainingEvent.query(on: req.db).filter(\.$requestID == request.requireID()).all()
        return ShowView(
            id: id, title: request.title, state: req.t(state.catalogKey), stateCode: state.rawValue, level: req.t("rfk.level.\(request.level)"),
            facts: facts, sections: sections, requester: anonymised ? req.t("rfk.anonymous") : (requesterUser?.name ?? ""), anonymised: anonymised,
            trail: trail, candidates: candidates, offers: offers, suggestions: suggestions, contacts: contacts,
            canEdit: isRequester && [.draft, .needsInfo].contains(state),
            canSubmit: isRequester && [.draft, .needsInfo].contains(state),
            canTriage: isCoordinator && state == .submitted, canOffer: canOffer,
            canPlan: (roles.contains(.expert) || isCoordinator) && state == .accepted,
            canDeliver: roles.contains(.expert) && state == .planned,
            canEvaluate: isRequester && state == .delivered,
            canWithdraw: isRequester && RequestWorkflow.openStates.contains(state),
            canResolve: canResolve,
            knowledgeCase: knowledgeCase,
            knowledgeCaseDrafted: request.knowledgeCaseID != nil,
            shortTrainingHref: canTrain ? "/events/new?request=\(id)" : nil,
            events: answeringEvents.map { ShowView.Suggestion(id: $0.id!.uuidString, href: "/events/\($0.id!.uuidString)", title: $0.title, snippet: req.t($0.kind.catalogKey)) },
            form: form,
            formats: RequestService.formats.map { Choice(value: $0, label: req.t("rfk.format.\($0)"), selected: $0 == request.formats.first) },
            listed: listed, canRespond: listed && !isRequester && myAnswer == nil, myAnswer: myAnswer, answers: answers,
            canReply: isRequester && listed)
    }

    func show(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let request = try await find(req, actor)
        return try await req.page("requests/show", titleKey: "rfk.record_title", titleArguments: [request.title], try await showView(req, request, actor))
    }

    /// The request as a Markdown document (the printable page is the same page with print styles).
    func markdown(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let request = try await find(req, actor)
        let view = try await showView(req, request, actor)
        var text = "# \(view.title)\n\n"
        text += "- \(req.t("rfk.field.state")): \(view.state) (\(view.level))\n"
        if !view.anonymised { text += "- \(req.t("rfk.requester")): \(view.requester)\n" }
        for fact in view.facts where !fact.value.isEmpty { text += "- \(fact.label): \(fact.value)\n" }
        for section in view.sections { text += "\n## \(section.label)\n\n\(section.value)\n" }
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "text/markdown; charset=utf-8")
        let slug = request.title.lowercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII ? String($0) : "-" }.joined()
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"request-\(slug.prefix(40)).md\"")
        return Response(status: .ok, headers: headers, body: .init(string: text))
    }

    // MARK: actions

    struct ActionForm: Content {
        var event: String?
        var note: String?
        var expert_id: String?
        var planned_on: String?
        var planned_format: String?
        var rating: String?
        var evaluation: String?
        var record_id: String?
        var accept: String?
        var listing_message: String?
        var reply: String?
    }

    /// Runs one action; rule errors come back as a message on the request page, form errors with what was typed.
    func act(_ req: Request, success: String, _ body: (RequestService, KnowledgeRequest, Actor, ActionForm) async throws -> Void) async throws -> Response {
        let actor = try await req.requireActor()
        let request = try await find(req, actor)
        let form = (try? req.content.decode(ActionForm.self)) ?? ActionForm()
        do {
            try await body(req.coordination, request, actor, form)
            req.flash("success", success)
        } catch let error as CoordinationError {
            if error == .workflow(.reasonRequired) {
                var state = FormState(values: ["note": form.note ?? "", "evaluation": form.evaluation ?? ""])
                state.add("note", req.t(error.catalogKey))
                return try await req.page("requests/show", titleKey: "rfk.record_title", titleArguments: [request.title],
                                          try await showView(req, request, actor, form: state), status: .unprocessableEntity)
            }
            req.flash("error", error.catalogKey)
        } catch let errors as FieldErrors {
            var state = FormState(values: ["note": form.note ?? "", "evaluation": form.evaluation ?? "", "planned_on": form.planned_on ?? "",
                                           "listing_message": form.listing_message ?? "", "reply": form.reply ?? "",
                                           "reply_to": req.parameters.get("responseID") ?? ""])
            for (field, key) in errors.fields { state.add(field, req.t(key)) }
            return try await req.page("requests/show", titleKey: "rfk.record_title", titleArguments: [request.title],
                                      try await showView(req, request, actor, form: state), status: .unprocessableEntity)
        }
        return req.seeOther("/requests/\(request.id!.uuidString)")
    }

    func submit(req: Request) async throws -> Response {
        try await act(req, success: "rfk.submitted") { service, request, actor, _ in try await service.submit(request, by: actor) }
    }

    func triage(req: Request) async throws -> Response {
        try await act(req, success: "rfk.triaged") { service, request, actor, form in
            guard let event = RfKEvent(rawValue: form.event ?? "") else { throw CoordinationError.workflow(.notAllowed(state: request.workflowState, event: .accept)) }
            try await service.triage(request, event: event, note: form.note ?? "", by: actor)
        }
    }

    func offer(req: Request) async throws -> Response {
        try await act(req, success: "rfk.offered") { service, request, actor, form in
            guard let expertID = UUID(uuidString: form.expert_id ?? "") else { throw CoordinationError.expertNotAvailable }
            try await service.offer(request, to: expertID, reason: form.note ?? "", by: actor)
        }
    }

    func plan(req: Request) async throws -> Response {
        try await act(req, success: "rfk.planned") { service, request, actor, form in
            try await service.plan(request, on: form.planned_on ?? "", format: form.planned_format ?? "", by: actor)
        }
    }

    func deliver(req: Request) async throws -> Response {
        try await act(req, success: "rfk.delivered") { service, request, actor, _ in try await service.deliver(request, by: actor) }
    }

    func evaluate(req: Request) async throws -> Response {
        let repository = req.repository
        return try await act(req, success: "rfk.evaluated") { service, request, actor, form in
            try await service.evaluate(request, rating: Int(form.rating ?? "") ?? 0, text: form.evaluation ?? "", by: actor, repository: repository)
        }
    }

    func withdraw(req: Request) async throws -> Response {
        try await act(req, success: "rfk.withdrawn") { service, request, actor, _ in try await service.withdraw(request, by: actor) }
    }

    func resolve(req: Request) async throws -> Response {
        try await act(req, success: "rfk.resolved") { service, request, actor, form in
            guard let id = UUID(uuidString: form.record_id ?? "") else { throw CoordinationError.recordNotPublished }
            try await service.resolve(request, with: id, by: actor)
        }
    }

    func respondToListing(req: Request) async throws -> Response {
        try await act(req, success: "rfk.listing_sent") { service, request, actor, form in
            try await service.respondToListing(request, message: form.listing_message ?? "", by: actor)
        }
    }

    func replyToListing(req: Request) async throws -> Response {
        try await act(req, success: "rfk.listing_replied") { service, request, actor, form in
            guard let id = req.parameters.get("responseID", as: UUID.self) else { throw Abort(.notFound) }
            try await service.replyToListing(request, responseID: id, message: form.reply ?? "", by: actor)
        }
    }

    // MARK: the expert's offers

    struct OffersView: Encodable {
        struct Row: Encodable {
            var id: String
            var href: String
            var title: String
            var gap: String
            var areas: String
            var expires: String
            var state: String
            var open: Bool
        }
        var rows: [Row]
        var hasProfile: Bool
    }

    func myOffers(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let profile = try await ExpertProfile.query(on: req.db).filter(\.$user.$id == actor.userID).first() else {
            return try await req.page("requests/offers", titleKey: "rfk.offers", OffersView(rows: [], hasProfile: false))
        }
        let offers = try await RequestOffer.query(on: req.db).filter(\.$expert.$id == profile.requireID()).sort(\.$createdAt, .descending).all()
        let requests = try await KnowledgeRequest.query(on: req.db).filter(\.$id ~~ offers.map(\.$request.id)).all()
        let now = Date()
        let rows = offers.compactMap { offer -> OffersView.Row? in
            guard let request = requests.first(where: { $0.id == offer.$request.id }) else { return nil }
            return .init(id: offer.id!.uuidString, href: "/requests/\(request.id!.uuidString)", title: request.title, gap: request.gap,
                         areas: request.areas.joined(separator: ", "), expires: req.formatDate(offer.expiresAt, time: true),
                         state: req.t("rfk.offer.\(offer.state.rawValue)"), open: offer.state == .open && offer.expiresAt > now)
        }
        return try await req.page("requests/offers", titleKey: "rfk.offers", OffersView(rows: rows, hasProfile: true))
    }

    func answer(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let id = req.parameters.get("offerID", as: UUID.self) else { throw Abort(.notFound) }
        let accept = (try? req.content.get(String.self, at: "accept")) == "yes"
        do {
            try await req.coordination.respond(to: id, accept: accept, by: actor)
            req.flash("success", accept ? "rfk.offer_accepted" : "rfk.offer_declined")
            if accept, let offer = try await RequestOffer.find(id, on: req.db) {
                return req.seeOther("/requests/\(offer.$request.id.uuidString)")
            }
        } catch let error as CoordinationError {
            req.flash("error", error.catalogKey)
        }
        return req.seeOther("/offers")
    }
}
