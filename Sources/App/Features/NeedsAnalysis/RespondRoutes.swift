import Fluent
import Vapor

/// Respondents: one area per page with a progress bar, save and resume, a review page, submit once.
/// The link is the only key; nothing about the person is stored with the answers.
struct RespondRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let respond = routes.grouped("respond", ":token")
        respond.get(use: start)
        respond.get("page", ":page", use: page)
        respond.post("page", ":page", use: savePage)
        respond.get("review", use: review)
        respond.post("submit", use: submit)
        respond.post("expertise", use: declare)
    }

    struct MessageView: Encodable {
        var heading: String
        var message: String
        var kind: String
    }

    /// A clear page instead of an error for links that cannot be used (anymore).
    func message(_ req: Request, _ key: String, status: HTTPStatus) async throws -> Response {
        try await req.page("respond/message", titleKey: "respond.\(key).title",
                           MessageView(heading: req.t("respond.\(key).title"), message: req.t("respond.\(key).text"), kind: key), status: status)
    }

    /// Resolves the link or answers with the right page.
    func ready(_ req: Request) async throws -> Result<(String, CampaignInvitation, Campaign, Instrument), ResponseWrapper> {
        let token = try req.parameters.require("token")
        switch try await req.campaigns.link(token) {
        case .invalid: return .failure(.init(try await message(req, "invalid", status: .notFound)))
        case .notAccepting: return .failure(.init(try await message(req, "closed", status: .gone)))
        case .alreadySubmitted: return .failure(.init(try await message(req, "submitted", status: .gone)))
        case .capReached: return .failure(.init(try await message(req, "full", status: .gone)))
        case .openLink(let open, _):
            let personal = try await req.campaigns.personalLink(from: open)
            req.flash("success", "respond.personal_link")
            return .failure(.init(req.seeOther("/respond/\(personal)")))
        case .ready(let invitation, let campaign, let instrument):
            return .success((token, invitation, campaign, instrument))
        }
    }

    struct ResponseWrapper: Error {
        let response: Response
        init(_ response: Response) { self.response = response }
    }

    // MARK: start

    struct StartView: Encodable {
        var token: String
        var title: String
        var campaign: String
        var introduction: String
        var closes: String
        var pages: Int
        var resumeURL: String
        var hasDraft: Bool
    }

    func start(req: Request) async throws -> Response {
        switch try await ready(req) {
        case .failure(let wrapper): return wrapper.response
        case .success(let (token, invitation, campaign, instrument)):
            let definition = instrument.definition
            let hasDraft = try await req.campaigns.draft(for: token, campaign: campaign) != nil
            return try await req.page("respond/start", titleKey: "respond.title", StartView(
                token: token, title: localized(definition.title, req.locale), campaign: campaign.title,
                introduction: localized(definition.introduction, req.locale), closes: req.formatDate(campaign.closesOn),
                pages: definition.sections(for: invitation.group).count, resumeURL: "\(req.config.baseURL)/respond/\(token)", hasDraft: hasDraft))
        }
    }

    // MARK: pages

    struct PageView: Encodable {
        struct Option: Encodable {
            var code: String
            var label: String
            var checked: Bool
            var rank: String
        }
        struct Point: Encodable {
            var value: Int
            var label: String
            var checked: Bool
        }
        struct Item: Encodable {
            var code: String
            var fieldID: String
            var kind: String
            var text: String
            var help: String?
            var required: Bool
            var error: String?
            var importance: [Point]
            var performance: [Point]
            var likert: [Point]
            var options: [Option]
            var value: String
            var min: String
            var max: String
        }
        var token: String
        var number: Int
        var total: Int
        var percent: Int
        var sectionTitle: String
        var areaCode: String?
        var importanceQuestion: String
        var performanceQuestion: String
        var items: [Item]
        var previous: Int?
        var next: Int?
        var isLast: Bool
        var form: FormState
        /// Preview by a coordinator: nothing is saved; the buttons become links between pages.
        var previewBase: String?
    }

    func pageNumber(_ req: Request, total: Int) throws -> Int {
        guard let number = req.parameters.get("page", as: Int.self), (1...max(total, 1)).contains(number) else { throw Abort(.notFound) }
        return number
    }

    static func fieldID(_ code: String) -> String {
        "item-" + code.map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
    }

    func pageView(_ req: Request, token: String, instrument: Instrument, group: String, number: Int,
                  answers: [String: AnswerValue], problems: [String: String]) -> PageView {
        let definition = instrument.definition
        let sections = definition.sections(for: group)
        let section = sections[number - 1]
        let labels = definition.scale.labels
        func points(_ chosen: Int?) -> [PageView.Point] {
            (1...5).map { .init(value: $0, label: labels[String($0)].map { localized($0, req.locale) } ?? String($0), checked: chosen == $0) }
        }
        var summary = FormState()
        let items: [PageView.Item] = section.items.map { item in
            let answer = answers[item.code]
            let chosen = Set((answer?.text ?? "").split(separator: "|").map(String.init))
            let ranking = (answer?.text ?? "").split(separator: "|").map(String.init)
            let error = problems[item.code].map { req.t($0) }
            if let error { summary.add(Self.fieldID(item.code), error) }
            return PageView.Item(
                code: item.code, fieldID: Self.fieldID(item.code), kind: item.kind.rawValue, text: localized(item.text, req.locale),
                help: item.help.map { localized($0, req.locale) }, required: item.required, error: error,
                importance: points(answer?.importance), performance: points(answer?.performance),
                likert: points(answer?.number.map { Int($0) }),
                options: (item.options ?? []).map { option in
                    .init(code: option.code, label: localized(option.label, req.locale), checked: chosen.contains(option.code),
                          rank: ranking.firstIndex(of: option.code).map { String($0 + 1) } ?? "")
                },
                value: item.kind == .number || item.kind == .likert ? (answer?.number.map { $0 == $0.rounded() ? String(Int($0)) : String($0) } ?? "") : (item.kind == .freeText || item.kind == .singleChoice ? (answer?.text ?? "") : ""),
                min: item.min.map { String(Int($0)) } ?? "", max: item.max.map { String(Int($0)) } ?? "")
        }
        return PageView(
            token: token, number: number, total: sections.count, percent: Int((Double(number - 1) / Double(max(sections.count, 1)) * 100).rounded()),
            sectionTitle: localized(section.title, req.locale), areaCode: section.area,
            importanceQuestion: localized(definition.scale.importance, req.locale), performanceQuestion: localized(definition.scale.performance, req.locale),
            items: items, previous: number > 1 ? number - 1 : nil, next: number < sections.count ? number + 1 : nil, isLast: number == sections.count, form: summary, previewBase: nil)
    }

    func page(req: Request) async throws -> Response {
        switch try await ready(req) {
        case .failure(let wrapper): return wrapper.response
        case .success(let (token, invitation, campaign, instrument)):
            let total = instrument.definition.sections(for: invitation.group).count
            let number = try pageNumber(req, total: total)
            let answers = try await req.campaigns.draft(for: token, campaign: campaign)?.answers ?? [:]
            return try await req.page("respond/page", titleKey: "respond.page_title", titleArguments: [String(number), String(total)],
                                      pageView(req, token: token, instrument: instrument, group: invitation.group, number: number, answers: answers, problems: [:]))
        }
    }

    func savePage(req: Request) async throws -> Response {
        switch try await ready(req) {
        case .failure(let wrapper): return wrapper.response
        case .success(let (token, invitation, campaign, instrument)):
            let sections = instrument.definition.sections(for: invitation.group)
            let number = try pageNumber(req, total: sections.count)
            let items = sections[number - 1].items
            let pairs = Responding.formPairs(req.body.string ?? "")
            let answers: [String: AnswerValue]
            do {
                answers = try Responding.answers(from: pairs, items: items)
            } catch let unexpected as Responding.UnexpectedItem {
                req.logger.warning("respondent sent an item not on this page: \(unexpected.code)")
                throw Abort(.badRequest, reason: "unexpected item")
            }
            let action = pairs.first { $0.0 == "action" }?.1 ?? "next"
            // Leaving for later or going back saves what is valid without insisting on required items.
            let problems = Responding.problems(answers, items: items, requireAll: action == "next")
            let invalid = problems.filter { key, _ in answers[key] != nil }
            if problems.isEmpty || (action != "next" && invalid.isEmpty) {
                try await req.campaigns.saveDraft(token: token, campaign: campaign, page: items, answers: answers)
                switch action {
                case "later":
                    req.flash("success", "respond.saved_for_later")
                    return req.seeOther("/respond/\(token)")
                case "back": return req.seeOther("/respond/\(token)/page/\(max(number - 1, 1))")
                default: return req.seeOther(number == sections.count ? "/respond/\(token)/review" : "/respond/\(token)/page/\(number + 1)")
                }
            }
            let shown = action == "next" ? problems : invalid
            return try await req.page("respond/page", titleKey: "respond.page_title", titleArguments: [String(number), String(sections.count)],
                                      pageView(req, token: token, instrument: instrument, group: invitation.group, number: number, answers: answers, problems: shown),
                                      status: .unprocessableEntity)
        }
    }

    // MARK: review and submit

    struct ReviewView: Encodable {
        struct Line: Encodable {
            var code: String
            var text: String
            var answer: String
            var missing: Bool
            var page: Int
        }
        var token: String
        var lines: [Line]
        var missing: Int
        var total: Int
        var form: FormState
    }

    func reviewView(_ req: Request, token: String, invitation: CampaignInvitation, instrument: Instrument,
                    answers: [String: AnswerValue]) -> ReviewView {
        let definition = instrument.definition
        let sections = definition.sections(for: invitation.group)
        let problems = Responding.problems(answers, items: sections.flatMap(\.items), requireAll: true)
        var lines: [ReviewView.Line] = []
        for (index, section) in sections.enumerated() {
            for item in section.items {
                let answer = answers[item.code]
                var shown = ""
                if let answer {
                    switch item.kind {
                    case .importancePerformance:
                        shown = req.t("respond.review.pair", answer.importance.map(String.init) ?? "–", answer.performance.map(String.init) ?? "–")
                    case .likert, .number:
                        shown = answer.number.map { $0 == $0.rounded() ? String(Int($0)) : String($0) } ?? ""
                    case .singleChoice, .multipleChoice, .ranking:
                        let codes = (answer.text ?? "").split(separator: "|").map(String.init)
                        shown = codes.map { code in (item.options ?? []).first { $0.code == code }.map { localized($0.label, req.locale) } ?? code }
                            .joined(separator: item.kind == .ranking ? " → " : ", ")
                    case .freeText:
                        shown = answer.text ?? ""
                    }
                }
                lines.append(.init(code: item.code, text: localized(item.text, req.locale), answer: shown,
                                   missing: problems[item.code] != nil, page: index + 1))
            }
        }
        var form = FormState()
        for line in lines where line.missing { form.add("review-\(line.code)", req.t("respond.error.required_named", line.code)) }
        return ReviewView(token: token, lines: lines, missing: lines.filter(\.missing).count, total: lines.count, form: form)
    }

    func review(req: Request) async throws -> Response {
        switch try await ready(req) {
        case .failure(let wrapper): return wrapper.response
        case .success(let (token, invitation, campaign, instrument)):
            let answers = try await req.campaigns.draft(for: token, campaign: campaign)?.answers ?? [:]
            var view = reviewView(req, token: token, invitation: invitation, instrument: instrument, answers: answers)
            view.form = FormState()
            return try await req.page("respond/review", titleKey: "respond.review.title", view)
        }
    }

    func submit(req: Request) async throws -> Response {
        switch try await ready(req) {
        case .failure(let wrapper): return wrapper.response
        case .success(let (token, invitation, campaign, instrument)):
            do {
                let answers = try await req.campaigns.draft(for: token, campaign: campaign)?.answers ?? [:]
                try await req.campaigns.submit(token: token, invitation: invitation, campaign: campaign, instrument: instrument)
                let declared = CampaignService.declared(in: answers, definition: instrument.definition)
                return try await thanks(req, token: token, declared: declared, form: FormState())
            } catch is FieldErrors {
                let answers = try await req.campaigns.draft(for: token, campaign: campaign)?.answers ?? [:]
                return try await req.page("respond/review", titleKey: "respond.review.title",
                                          reviewView(req, token: token, invitation: invitation, instrument: instrument, answers: answers),
                                          status: .unprocessableEntity)
            } catch let abort as Abort where abort.status == .conflict {
                return try await message(req, "submitted", status: .gone)
            } catch let abort as Abort where abort.status == .gone {
                return try await message(req, "full", status: .gone)
            }
        }
    }

    // MARK: knowledge capital

    struct ThanksView: Encodable {
        var token: String
        var offer: Bool
        var areas: [Choice]
        var form: FormState
    }

    /// The thank-you page; when the respondent declared expertise or projects, it offers to share them by name.
    func thanks(_ req: Request, token: String, declared: CampaignService.Declared, form: FormState, status: HTTPStatus = .ok) async throws -> Response {
        var form = form
        if form.values["projects"] == nil { form.values["projects"] = declared.projects }
        let chosen = Set(form.values["areas"].map { $0.split(separator: ",").map(String.init) } ?? declared.areas)
        let areas = try await Area.query(on: req.db).sort(\.$position).all().map {
            Choice(value: $0.code, label: "\($0.code) · \(localized($0.names, req.locale))", selected: chosen.contains($0.code))
        }
        return try await req.page("respond/thanks", titleKey: "respond.thanks.title",
                                  ThanksView(token: token, offer: !declared.isEmpty || form.hasErrors, areas: areas, form: form), status: status)
    }

    func declare(req: Request) async throws -> Response {
        let token = try req.parameters.require("token")
        let pairs = Responding.formPairs(req.body.string ?? "")
        func value(_ name: String) -> String { pairs.first { $0.0 == name }?.1 ?? "" }
        let areas = pairs.filter { $0.0 == "areas[]" }.map(\.1)
        guard try await req.campaigns.declarationLink(token) != nil else { return try await message(req, "invalid", status: .gone) }
        do {
            try await req.campaigns.declare(token: token, name: value("name"), email: value("email"), areas: areas,
                                            projects: value("projects"), consent: value("consent") == "yes")
            return try await message(req, "shared", status: .ok)
        } catch let errors as FieldErrors {
            var form = FormState(values: ["name": value("name"), "email": value("email"), "projects": value("projects"),
                                          "areas": areas.joined(separator: ",")])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await thanks(req, token: token, declared: .init(areas: areas, projects: value("projects"), consented: false),
                                    form: form, status: .unprocessableEntity)
        }
    }
}
