import Fluent
import Vapor

/// Coordinators: create and run campaigns, invite respondents, move through the states.
struct CampaignRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let campaigns = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("campaigns")
        campaigns.get(use: index)
        campaigns.get("new", use: newForm)
        campaigns.post(use: create)
        campaigns.get(":id", use: show)
        for transition in [CampaignService.Transition.open, .close] {
            campaigns.post(":id", PathComponent(stringLiteral: transition.rawValue), use: { try await self.transition(req: $0, transition) })
        }
        campaigns.post(":id", "invitations", use: invite)
        campaigns.on(.POST, ":id", "invitations", "csv", body: .collect(maxSize: "1mb"), use: inviteCSV)
        campaigns.post(":id", "open-links", use: openLink)
        campaigns.post(":id", "remind", use: remind)
        campaigns.get(":id", "knowledge-capital", use: knowledgeCapital)
        campaigns.post(":id", "knowledge-capital", ":declarationID", use: setDeclarationStatus)
    }

    func find(_ req: Request, actor: Actor) async throws -> Campaign {
        guard let id = req.parameters.get("id", as: UUID.self), let campaign = try await Campaign.find(id, on: req.db) else {
            throw Abort(.notFound)
        }
        try await req.campaigns.requireRun(campaign, by: actor)
        return campaign
    }

    // MARK: list

    struct IndexView: Encodable {
        struct Row: Encodable {
            var id: String
            var title: String
            var scope: String
            var state: String
            var window: String
            var responses: Int
        }
        var rows: [Row]
        var canCreate: Bool
    }

    func index(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard actor.isCoordinator else { throw Forbidden() }
        var rows: [IndexView.Row] = []
        for campaign in try await req.campaigns.campaigns(for: actor) {
            rows.append(.init(
                id: campaign.id!.uuidString, title: campaign.title, scope: try await scopeLabel(req, campaign),
                state: req.t("campaign.state.\(campaign.state.rawValue)"),
                window: "\(req.formatDate(campaign.opensOn)) – \(req.formatDate(campaign.closesOn))",
                responses: try await SurveyResponse.query(on: req.db).filter(\.$campaign.$id == campaign.requireID()).count()))
        }
        return try await req.page("campaigns/index", titleKey: "campaigns.title", IndexView(rows: rows, canCreate: true))
    }

    func scopeLabel(_ req: Request, _ campaign: Campaign) async throws -> String {
        switch campaign.scope {
        case .institution:
            let institution = try await UUID(uuidString: campaign.scopeID).asyncMap { try await Institution.find($0, on: req.db) } ?? nil
            return institution.map { localized($0.names, req.locale) } ?? campaign.scopeID
        case .country:
            let country = try await Country.query(on: req.db).filter(\.$code == campaign.scopeID).first()
            return country.map { localized($0.names, req.locale) } ?? campaign.scopeID
        case .region:
            let region = try await Region.query(on: req.db).filter(\.$code == campaign.scopeID).first()
            return region.map { localized($0.names, req.locale) } ?? campaign.scopeID
        }
    }

    // MARK: new

    struct NewView: Encodable {
        var form: FormState
        var instruments: [Choice]
        var scopes: [Choice]
        var institutions: [Choice]
        var groups: [Choice]
        /// The IaH areas with the most Requests for Knowledge nobody has taken up yet, in the part of the network the
        /// coordinator coordinates: where the last campaign's answers are not yet met (issue 5, the loop back).
        var demand: [String]
        var demandLink: String
    }

    /// Scopes the actor may run, as `scope:id` choices.
    func scopeChoices(_ req: Request, _ actor: Actor, selected: String?) async throws -> [Choice] {
        var choices: [Choice] = []
        if actor.isAdmin || actor.isRegionalCoordinator {
            for region in try await Region.query(on: req.db).sort(\.$code).all() {
                choices.append(.init(value: "region:\(region.code)", label: req.t("campaign.scope.region") + ": " + localized(region.names, req.locale), selected: false))
            }
        }
        for country in try await Country.query(on: req.db).sort(\.$code).all() where actor.canManageCountry(country.code) {
            choices.append(.init(value: "country:\(country.code)", label: req.t("campaign.scope.country") + ": " + localized(country.names, req.locale), selected: false))
        }
        for institution in try await Institution.query(on: req.db).all() where institution.place.map(actor.canManage) ?? false {
            choices.append(.init(value: "institution:\(institution.id!.uuidString)", label: req.t("campaign.scope.institution") + ": " + localized(institution.names, req.locale), selected: false))
        }
        let chosen = selected ?? actor.home.flatMap { home in choices.first { $0.value == "institution:\(home.institutionID.uuidString)" }?.value }
        return choices.map { Choice(value: $0.value, label: $0.label, selected: $0.value == chosen) }
    }

    func newView(_ req: Request, _ actor: Actor, form: FormState, selectedTargets: Set<String>, selectedGroups: Set<String>) async throws -> NewView {
        let instruments = try await Instrument.query(on: req.db).sort(\.$code).sort(\.$version, .descending).all()
            .filter { $0.institutionID == nil || ($0.institutionID.map { id in actor.coordinatedInstitutions.contains(id) } ?? false) || actor.isAdmin }
        let countries = try await Country.query(on: req.db).all()
        let institutions = try await Institution.query(on: req.db).all()
            .filter { institution in
                actor.isAdmin || actor.isRegionalCoordinator || actor.canManageCountry(institution.countryCode)
                    || (institution.place.map(actor.canManage) ?? false)
            }
            .map { institution in
                let country = countries.first { $0.code == institution.countryCode }.map { localized($0.names, req.locale) } ?? institution.countryCode
                return Choice(value: institution.id!.uuidString, label: "\(localized(institution.names, req.locale)) (\(country))",
                              selected: selectedTargets.contains(institution.id!.uuidString))
            }
            .sorted { $0.label < $1.label }
        var demand: [String] = []
        var demandLink = "/coordination"
        let dashboards = CoordinationDashboardService(db: req.db)
        let scopes = try await dashboards.scopes(for: actor)
        if let scope = scopes.first {
            demandLink = "/coordination?scope=\(scope.value)#demand-heading"
            let areas = try await Area.query(on: req.db).all()
            demand = try await dashboards.load(scope, for: actor, among: scopes).report.demand.prefix(5).map { row in
                let name = areas.first { $0.code == row.area }.map { localized($0.names, req.locale) } ?? row.area
                return req.t("campaigns.demand_row", row.area, name, String(row.requests), String(row.experts))
            }
        }
        return NewView(
            form: form,
            instruments: instruments.map { .init(value: $0.id!.uuidString, label: "\(localized($0.definition.title, req.locale)) · v\($0.version)", selected: $0.id?.uuidString == form.values["instrument_id"]) },
            scopes: try await scopeChoices(req, actor, selected: form.values["scope"]),
            institutions: institutions,
            groups: InstrumentDefinition.stakeholderGroups.map { .init(value: $0, label: req.t("group.\($0)"), selected: selectedGroups.contains($0)) },
            demand: demand, demandLink: demandLink)
    }

    func newForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard actor.isCoordinator else { throw Forbidden() }
        let today = CampaignService.day(Date())
        let inFourWeeks = CampaignService.day(Date().addingTimeInterval(28 * 86400))
        let form = FormState(values: ["opens_on": today, "closes_on": inFourWeeks, "minimum_group_size": "5"])
        let view = try await newView(req, actor, form: form, selectedTargets: [], selectedGroups: Set(InstrumentDefinition.stakeholderGroups.prefix(4)))
        return try await req.page("campaigns/new", titleKey: "campaigns.new", view)
    }

    func create(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let pairs = Responding.formPairs(req.body.string ?? "")
        func value(_ name: String) -> String { pairs.first { $0.0 == name }?.1 ?? "" }
        let scopeValue = value("scope")
        let scopeParts = scopeValue.split(separator: ":", maxSplits: 1).map(String.init)
        let targets = pairs.filter { $0.0 == "targets[]" }.map(\.1)
        let groups = pairs.filter { $0.0 == "groups[]" }.map(\.1)
        let draft = CampaignService.Draft(
            title: value("title"), instrumentID: UUID(uuidString: value("instrument_id")),
            scope: scopeParts.first ?? "", scopeID: scopeParts.count > 1 ? scopeParts[1] : "",
            targetInstitutions: targets.compactMap { UUID(uuidString: $0) }, groups: groups,
            opensOn: value("opens_on"), closesOn: value("closes_on"), minimumGroupSize: value("minimum_group_size"))
        do {
            let campaign = try await req.campaigns.create(draft, by: actor)
            req.flash("success", "campaigns.created")
            return req.seeOther("/campaigns/\(campaign.id!.uuidString)")
        } catch let errors as FieldErrors {
            var form = FormState(values: ["title": value("title"), "instrument_id": value("instrument_id"), "scope": scopeValue,
                                          "opens_on": value("opens_on"), "closes_on": value("closes_on"),
                                          "minimum_group_size": value("minimum_group_size")])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            let view = try await newView(req, actor, form: form, selectedTargets: Set(targets), selectedGroups: Set(groups))
            return try await req.page("campaigns/new", titleKey: "campaigns.new", view, status: .unprocessableEntity)
        }
    }

    // MARK: one campaign

    struct ShowView: Encodable {
        struct GroupCount: Encodable {
            var group: String
            var label: String
            var invited: Int
            var submitted: Int
            var belowMinimum: Bool
        }
        var id: String
        var title: String
        var scope: String
        var state: String
        var stateCode: String
        var window: String
        var instrument: String
        var minimumGroupSize: Int
        var targets: [String]
        var groups: [Choice]
        var institutions: [Choice]
        var counts: [GroupCount]
        var responses: Int
        var canOpen: Bool
        var canClose: Bool
        var canInvite: Bool
        var canRemind: Bool
        var canAnalyse: Bool
        var hasResults: Bool
        var newOpenLink: String?
        var inviteForm: FormState
        var csvProblems: [String]
    }

    func showView(_ req: Request, _ campaign: Campaign, inviteForm: FormState = FormState(), newOpenLink: String? = nil,
                  csvProblems: [String] = []) async throws -> ShowView {
        let id = try campaign.requireID()
        let invitations = try await CampaignInvitation.query(on: req.db).filter(\.$campaign.$id == id).all()
        let responses = try await SurveyResponse.query(on: req.db).filter(\.$campaign.$id == id).all()
        let institutions = try await Institution.query(on: req.db).filter(\.$id ~~ campaign.targetInstitutions).all()
        let instrument = try await Instrument.find(campaign.$instrument.id, on: req.db)
        return ShowView(
            id: id.uuidString, title: campaign.title, scope: try await scopeLabel(req, campaign),
            state: req.t("campaign.state.\(campaign.state.rawValue)"), stateCode: campaign.state.rawValue,
            window: "\(req.formatDate(campaign.opensOn)) – \(req.formatDate(campaign.closesOn))",
            instrument: instrument.map { "\(localized($0.definition.title, req.locale)) · v\($0.version)" } ?? "",
            minimumGroupSize: campaign.minimumGroupSize,
            targets: institutions.map { localized($0.names, req.locale) }.sorted(),
            groups: campaign.groups.map { .init(value: $0, label: req.t("group.\($0)"), selected: $0 == inviteForm.values["group"]) },
            institutions: institutions.map { .init(value: $0.id!.uuidString, label: localized($0.names, req.locale), selected: $0.id?.uuidString == inviteForm.values["institution_id"]) },
            counts: campaign.groups.map { group in
                let submitted = responses.filter { $0.group == group }.count
                return .init(group: group, label: req.t("group.\(group)"),
                             invited: invitations.filter { $0.group == group && $0.email != nil }.count,
                             submitted: submitted, belowMinimum: submitted < campaign.minimumGroupSize)
            },
            responses: responses.count,
            canOpen: CampaignService.allowed[.open]!.contains(campaign.state),
            canClose: CampaignService.allowed[.close]!.contains(campaign.state),
            canInvite: [.draft, .open].contains(campaign.state),
            canRemind: campaign.state == .open,
            canAnalyse: CampaignService.allowed[.analyse]!.contains(campaign.state),
            hasResults: campaign.results != nil,
            newOpenLink: newOpenLink, inviteForm: inviteForm, csvProblems: csvProblems)
    }

    func show(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let campaign = try await find(req, actor: actor)
        return try await req.page("campaigns/show", titleKey: "campaign.title", titleArguments: [campaign.title], showView(req, campaign))
    }

    func transition(req: Request, _ transition: CampaignService.Transition) async throws -> Response {
        let actor = try await req.requireActor()
        let campaign = try await find(req, actor: actor)
        do {
            switch transition {
            case .open: try await req.campaigns.open(campaign, by: actor)
            case .close: try await req.campaigns.close(campaign, by: actor)
            default: throw Abort(.badRequest)
            }
            req.flash("success", "campaign.done.\(transition.rawValue)")
        } catch let errors as FieldErrors {
            req.flash("error", errors.fields.first?.1 ?? "error.bad_request")
        }
        return req.seeOther("/campaigns/\(campaign.id!.uuidString)")
    }

    // MARK: invitations

    func invite(req: Request) async throws -> Response {
        struct Input: Content { var email: String?; var group: String?; var institution_id: String? }
        let actor = try await req.requireActor()
        let campaign = try await find(req, actor: actor)
        let input = try req.content.decode(Input.self)
        do {
            try await req.campaigns.invite(email: input.email ?? "", group: input.group ?? "",
                                           institutionID: UUID(uuidString: input.institution_id ?? "") ?? UUID(), to: campaign, by: actor, locale: req.locale)
            req.flash("success", "invitations.sent_one", AccountRules.normalizedEmail(input.email ?? ""))
            return req.seeOther("/campaigns/\(campaign.id!.uuidString)#invitations")
        } catch let errors as FieldErrors {
            var form = FormState(values: ["email": input.email ?? "", "group": input.group ?? "", "institution_id": input.institution_id ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("campaigns/show", titleKey: "campaign.title", titleArguments: [campaign.title],
                                      showView(req, campaign, inviteForm: form), status: .unprocessableEntity)
        }
    }

    func inviteCSV(req: Request) async throws -> Response {
        struct Upload: Content { var file: File?; var institution_id: String? }
        let actor = try await req.requireActor()
        let campaign = try await find(req, actor: actor)
        let upload = try req.content.decode(Upload.self)
        guard let file = upload.file, file.data.readableBytes > 0 else {
            var form = FormState()
            form.add("file", req.t("invitations.csv.missing"))
            return try await req.page("campaigns/show", titleKey: "campaign.title", titleArguments: [campaign.title],
                                      showView(req, campaign, inviteForm: form), status: .unprocessableEntity)
        }
        do {
            let result = try await req.campaigns.inviteFromCSV(Data(buffer: file.data), defaultInstitution: UUID(uuidString: upload.institution_id ?? ""),
                                                               to: campaign, by: actor, locale: req.locale)
            let problems = result.problems.map { req.t("invitations.csv.line", String($0.line), req.t($0.key), $0.value) }
            if problems.isEmpty {
                req.flash("success", "invitations.sent_many", String(result.invited))
                return req.seeOther("/campaigns/\(campaign.id!.uuidString)#invitations")
            }
            var form = FormState()
            form.add("file", req.t("invitations.csv.partial", String(result.invited), String(problems.count)))
            return try await req.page("campaigns/show", titleKey: "campaign.title", titleArguments: [campaign.title],
                                      showView(req, campaign, inviteForm: form, csvProblems: problems), status: .unprocessableEntity)
        } catch let errors as FieldErrors {
            var form = FormState()
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("campaigns/show", titleKey: "campaign.title", titleArguments: [campaign.title],
                                      showView(req, campaign, inviteForm: form), status: .unprocessableEntity)
        }
    }

    func openLink(req: Request) async throws -> Response {
        struct Input: Content { var group: String?; var institution_id: String?; var cap: String? }
        let actor = try await req.requireActor()
        let campaign = try await find(req, actor: actor)
        let input = try req.content.decode(Input.self)
        do {
            let token = try await req.campaigns.openLink(group: input.group ?? "", institutionID: UUID(uuidString: input.institution_id ?? "") ?? UUID(),
                                                         cap: Int(input.cap ?? "") ?? 0, for: campaign, by: actor)
            return try await req.page("campaigns/show", titleKey: "campaign.title", titleArguments: [campaign.title],
                                      showView(req, campaign, newOpenLink: "\(req.config.baseURL)/respond/\(token)"), status: .created)
        } catch let errors as FieldErrors {
            var form = FormState(values: ["group": input.group ?? "", "institution_id": input.institution_id ?? "", "cap": input.cap ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("campaigns/show", titleKey: "campaign.title", titleArguments: [campaign.title],
                                      showView(req, campaign, inviteForm: form), status: .unprocessableEntity)
        }
    }

    func remind(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let campaign = try await find(req, actor: actor)
        do {
            let count = try await req.campaigns.remind(campaign, by: actor, locale: req.locale)
            req.flash("success", "invitations.reminded", String(count))
        } catch let errors as FieldErrors {
            req.flash("error", errors.fields.first?.1 ?? "error.bad_request")
        }
        return req.seeOther("/campaigns/\(campaign.id!.uuidString)#invitations")
    }

    // MARK: knowledge capital

    struct KnowledgeCapitalView: Encodable {
        struct Row: Encodable {
            var id: String
            var name: String
            var email: String
            var institution: String
            var areas: [String]
            var projects: String
            var status: String
            var isNew: Bool
            var nominated: Bool
            var created: String
        }
        var id: String
        var title: String
        var rows: [Row]
    }

    func knowledgeCapital(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let campaign = try await find(req, actor: actor)
        let institutions = Dictionary(uniqueKeysWithValues: try await Institution.query(on: req.db).all().map { ($0.id!, localized($0.names, req.locale)) })
        let areaNames = Dictionary(uniqueKeysWithValues: try await Area.query(on: req.db).all().map { ($0.code, localized($0.names, req.locale)) })
        let rows = try await KnowledgeCapitalDeclaration.query(on: req.db).filter(\.$campaign.$id == campaign.requireID())
            .sort(\.$createdAt, .descending).all().map { declaration in
                KnowledgeCapitalView.Row(
                    id: declaration.id!.uuidString, name: declaration.name, email: declaration.email,
                    institution: institutions[declaration.institutionID] ?? "", areas: declaration.areas.map { "\($0) \(areaNames[$0] ?? "")" },
                    projects: declaration.projects, status: req.t("kc.status.\(declaration.status.rawValue)"), isNew: declaration.status == .new,
                    nominated: declaration.status == .nominated, created: req.formatDate(declaration.createdAt))
            }
        return try await req.page("campaigns/knowledge-capital", titleKey: "kc.title", titleArguments: [campaign.title],
                                  KnowledgeCapitalView(id: campaign.id!.uuidString, title: campaign.title, rows: rows))
    }

    func setDeclarationStatus(req: Request) async throws -> Response {
        struct Input: Content { var status: String }
        let actor = try await req.requireActor()
        let campaign = try await find(req, actor: actor)
        guard let id = req.parameters.get("declarationID", as: UUID.self),
              let status = KnowledgeCapitalDeclaration.Status(rawValue: try req.content.decode(Input.self).status) else { throw Abort(.badRequest) }
        try await req.campaigns.setDeclarationStatus(id, to: status, campaign: campaign, by: actor)
        if status == .nominated, let declaration = try await KnowledgeCapitalDeclaration.find(id, on: req.db) {
            // Nominating creates the expert profile (or invites the person with the expert role).
            do {
                switch try await req.nominations.nominate(declaration, campaignTitle: campaign.title, by: actor, accounts: req.accounts, locale: req.locale) {
                case .profile: req.flash("success", "kc.nominated_profile")
                case .invited: req.flash("success", "kc.nominated_invited")
                }
            } catch is Forbidden {
                req.flash("error", "kc.nominate_not_allowed")
            }
        } else {
            req.flash("success", "kc.saved")
        }
        return req.seeOther("/campaigns/\(campaign.id!.uuidString)/knowledge-capital")
    }
}
