import Fluent
import Vapor

/// Authenticates `Authorization: Bearer <personal access token>`.
struct TokenAuthenticator: AsyncBearerAuthenticator {
    func authenticate(bearer: BearerAuthorization, for req: Request) async throws {
        guard let token = try await PersonalAccessToken.query(on: req.db)
            .filter(\.$tokenHash == SecureToken.hash(bearer.token)).filter(\.$revokedAt == nil).first(),
            let user = try await User.find(token.$user.id, on: req.db), user.status == .active else { return }
        token.lastUsedAt = Date()
        try await token.save(on: req.db)
        req.auth.login(user)
    }
}

/// The JSON API under /api/v1 (documented in Resources/openapi.json, served at /api/openapi.json).
struct APIRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("api", "openapi.json", use: openAPI)
        let api = routes.grouped("api", "v1").grouped(TokenAuthenticator())
        api.get("institutions", use: institutions)
        api.get("institutions", ":id", use: institution)
        api.get("areas", use: areas)
        let signedIn = api.grouped(User.guardMiddleware())
        signedIn.get("me", use: me)
        signedIn.post("institutions", use: createInstitution)
        signedIn.get("users", use: users)
        signedIn.get("campaigns", use: campaigns)
        signedIn.get("campaigns", ":id", "results", use: campaignResults)
    }

    func openAPI(req: Request) async throws -> Response {
        let path = req.application.directory.resourcesDirectory + "openapi.json"
        let response = try await req.fileio.asyncStreamFile(at: path)
        response.headers.contentType = .json
        return response
    }

    // MARK: shapes

    struct RoleDTO: Content {
        var role: String
        var scope: String
        var scopeId: String?
    }

    struct MeDTO: Content {
        var id: UUID
        var email: String
        var name: String
        var status: String
        var institutionId: UUID?
        var orgUnitId: UUID?
        var preferredLocale: String?
        var languages: [String]
        var roles: [RoleDTO]
    }

    struct InstitutionDTO: Content {
        var id: UUID
        var slug: String
        var name: String
        var names: [String: String]
        var shortName: String
        var countryCode: String
        var city: String
        var website: String?
        var kind: String
    }

    struct AreaDTO: Content {
        var code: String
        var name: String
        var description: String
        var names: [String: String]
        var descriptions: [String: String]
        var activityTypes: [String]
    }

    struct ListDTO<Item: Content>: Content {
        var total: Int
        var items: [Item]
    }

    static func dto(_ user: User) throws -> MeDTO {
        MeDTO(id: try user.requireID(), email: user.email, name: user.name, status: user.status.rawValue,
              institutionId: user.$institution.id, orgUnitId: user.$orgUnit.id, preferredLocale: user.preferredLocale,
              languages: user.languages,
              roles: (user.$roles.value ?? []).compactMap(\.grant).map { RoleDTO(role: $0.role.rawValue, scope: $0.role.scopeKind.rawValue, scopeId: $0.scopeID) })
    }

    static func dto(_ institution: Institution, _ locale: UILocale) throws -> InstitutionDTO {
        InstitutionDTO(id: try institution.requireID(), slug: institution.slug, name: localized(institution.names, locale),
                       names: institution.names, shortName: institution.shortName, countryCode: institution.countryCode,
                       city: institution.city, website: institution.website, kind: institution.kind.rawValue)
    }

    // MARK: handlers

    func me(req: Request) async throws -> MeDTO {
        let user = try req.auth.require(User.self)
        try await user.$roles.load(on: req.db)
        return try Self.dto(user)
    }

    func institutions(req: Request) async throws -> ListDTO<InstitutionDTO> {
        var query = Institution.query(on: req.db).sort(\.$shortName)
        if let country = req.query[String.self, at: "country"] {
            query = query.filter(\.$countryCode == country.uppercased())
        }
        let items = try await query.all().map { try Self.dto($0, req.locale) }
        return ListDTO(total: items.count, items: items)
    }

    func institution(req: Request) async throws -> InstitutionDTO {
        guard let id = req.parameters.get("id", as: UUID.self), let institution = try await Institution.find(id, on: req.db) else {
            throw Abort(.notFound, reason: "No institution with this id.")
        }
        return try Self.dto(institution, req.locale)
    }

    struct CreateInstitutionBody: Content {
        var names: [String: String]
        var shortName: String
        var countryCode: String
        var city: String
        var website: String?
        var kind: String
    }

    func createInstitution(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let body = try req.content.decode(CreateInstitutionBody.self)
        do {
            let institution = try await req.organisation.create(.init(
                names: body.names, shortName: body.shortName, countryCode: body.countryCode.uppercased(), city: body.city,
                website: body.website, kind: body.kind), by: actor)
            let response = try await Self.dto(institution, req.locale).encodeResponse(status: .created, for: req)
            response.headers.replaceOrAdd(name: .location, value: "/api/v1/institutions/\(institution.id!.uuidString)")
            return response
        } catch let errors as FieldErrors {
            throw ValidationProblem(errors: Dictionary(errors.fields.map { (Self.apiField($0.0), req.t($0.1)) }, uniquingKeysWith: { a, _ in a }))
        }
    }

    /// Form field names → API property names.
    static func apiField(_ field: String) -> String {
        switch field {
        case "name_en": "names.en"
        case "short_name": "shortName"
        case "country_code": "countryCode"
        default: field
        }
    }

    func users(req: Request) async throws -> ListDTO<MeDTO> {
        let actor = try await req.requireActor()
        guard actor.canAdministerPlatform else { throw Forbidden() }
        let users = try await User.query(on: req.db).with(\.$roles).sort(\.$email).all()
        let items = try users.map(Self.dto)
        return ListDTO(total: items.count, items: items)
    }

    func areas(req: Request) async throws -> ListDTO<AreaDTO> {
        let types = try await ActivityType.query(on: req.db).all()
        let items = try await Area.query(on: req.db).sort(\.$position).all().map { area in
            AreaDTO(code: area.code, name: localized(area.names, req.locale), description: localized(area.descriptions, req.locale),
                    names: area.names, descriptions: area.descriptions,
                    activityTypes: types.filter { $0.areaCode == area.code }.map(\.code).sorted())
        }
        return ListDTO(total: items.count, items: items)
    }

    // MARK: needs analysis

    struct CampaignDTO: Content {
        var id: UUID
        var title: String
        var scope: String
        var scopeId: String
        var state: String
        var opensOn: String
        var closesOn: String
        var minimumGroupSize: Int
        var groups: [String]
        var targetInstitutions: [UUID]
        var responses: Int?
    }

    struct GroupResultDTO: Content {
        var group: String
        var n: Int
        var importance: Double
        var performance: Double
        var mwds: Double
    }

    struct AreaResultDTO: Content {
        var area: String
        var importance: Double
        var performance: Double
        var n: Int
        var gap: Double
        var consensus: Double?
        var quadrant: String
        var feasibility: Double
        var strategic: Bool
        var priority: Double
        var rank: Int
        var groups: [GroupResultDTO]
    }

    struct ResultsDTO: Content {
        var campaignId: UUID
        var state: String
        var responses: Int
        var minimumGroupSize: Int
        var campaignMean: Double?
        var areas: [AreaResultDTO]
        var areasWithoutData: [String]
        var validatedPriorities: [PriorityValidation.Entry]?
    }

    func campaignDTO(_ campaign: Campaign, responses: Int?) throws -> CampaignDTO {
        CampaignDTO(id: try campaign.requireID(), title: campaign.title, scope: campaign.scope.rawValue, scopeId: campaign.scopeID,
                    state: campaign.state.rawValue, opensOn: CampaignService.day(campaign.opensOn), closesOn: CampaignService.day(campaign.closesOn),
                    minimumGroupSize: campaign.minimumGroupSize, groups: campaign.groups, targetInstitutions: campaign.targetInstitutions,
                    responses: responses)
    }

    /// Campaigns the token's owner runs.
    func campaigns(req: Request) async throws -> ListDTO<CampaignDTO> {
        let actor = try await req.requireActor()
        var items: [CampaignDTO] = []
        for campaign in try await req.campaigns.campaigns(for: actor) {
            let responses = try await SurveyResponse.query(on: req.db).filter(\.$campaign.$id == campaign.requireID()).count()
            items.append(try campaignDTO(campaign, responses: responses))
        }
        return ListDTO(total: items.count, items: items)
    }

    func campaignResults(req: Request) async throws -> ResultsDTO {
        let actor = try await req.requireActor()
        guard let id = req.parameters.get("id", as: UUID.self), let campaign = try await Campaign.find(id, on: req.db) else {
            throw Abort(.notFound, reason: "No campaign with this id.")
        }
        try await req.campaigns.requireRun(campaign, by: actor)
        guard let results = campaign.results else { throw Abort(.conflict, reason: "The campaign has not been analysed yet.") }
        let report = results.analysis
        return ResultsDTO(
            campaignId: id, state: campaign.state.rawValue, responses: results.responses, minimumGroupSize: campaign.minimumGroupSize,
            campaignMean: report.mu,
            areas: report.areas.sorted { $0.rank < $1.rank }.map { area in
                AreaResultDTO(area: area.area, importance: area.importance, performance: area.performance, n: area.respondents, gap: area.gap,
                              consensus: area.consensus, quadrant: area.quadrant.rawValue, feasibility: area.feasibility, strategic: area.strategic,
                              priority: area.priority, rank: area.rank,
                              groups: area.groups.map { GroupResultDTO(group: $0.group, n: $0.respondents, importance: $0.importance, performance: $0.performance, mwds: $0.mwds) })
            },
            areasWithoutData: report.areasWithoutData, validatedPriorities: campaign.validation?.entries)
    }
}
