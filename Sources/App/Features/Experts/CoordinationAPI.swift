import Fluent
import Vapor

/// /api/v1/experts, /api/v1/requests and /api/v1/requests/{id}/matches (the ranked experts with every component).
struct CoordinationAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let api = routes.grouped("api", "v1").grouped(TokenAuthenticator())
        api.get("experts", use: experts)
        let signedIn = api.grouped(User.guardMiddleware())
        signedIn.get("requests", use: requests)
        signedIn.get("requests", ":id", "matches", use: matches)
    }

    struct CompetencyDTO: Content { var area: String; var proficiency: Int }
    struct ExpertDTO: Content {
        var id: UUID
        var name: String
        var institutionId: UUID
        var level: String
        var competencies: [CompetencyDTO]
        var languages: [String]
        var formats: [String]
        var bio: String
    }
    struct ListDTO<Item: Content>: Content { var total: Int; var items: [Item] }

    /// The public directory: active experts who chose to be listed; no contact details.
    func experts(req: Request) async throws -> ListDTO<ExpertDTO> {
        let area = try? req.query.get(String.self, at: "area")
        let language = try? req.query.get(String.self, at: "language")
        let profiles = try await ExpertProfile.query(on: req.db).filter(\.$status == .active).filter(\.$isPublic == true).all()
        let competencies = try await ExpertCompetency.query(on: req.db).filter(\.$expert.$id ~~ profiles.compactMap(\.id)).all()
        let users = try await User.query(on: req.db).filter(\.$id ~~ profiles.map(\.$user.id)).all()
        let items = profiles.compactMap { profile -> ExpertDTO? in
            let own = competencies.filter { $0.$expert.id == profile.id }
            if let area, !own.contains(where: { $0.area == area }) { return nil }
            if let language, !profile.languages.contains(language) { return nil }
            return ExpertDTO(id: profile.id!, name: users.first { $0.id == profile.$user.id }?.name ?? "", institutionId: profile.$institution.id,
                             level: profile.level.rawValue, competencies: own.map { .init(area: $0.area, proficiency: $0.proficiency) },
                             languages: profile.languages, formats: profile.formats, bio: profile.bio)
        }.sorted { $0.name < $1.name }
        return ListDTO(total: items.count, items: items)
    }

    struct RequestDTO: Content {
        var id: UUID
        var title: String
        var state: String
        var level: Int
        var areas: [String]
        var languages: [String]
        var formats: [String]
        var institutionId: UUID
        var submittedAt: Date?
        var updatedAt: Date?
    }

    /// The caller's own requests and those at a level they coordinate.
    func requests(req: Request) async throws -> ListDTO<RequestDTO> {
        let actor = try await req.requireActor()
        var items: [RequestDTO] = []
        for request in try await KnowledgeRequest.query(on: req.db).sort(\.$updatedAt, .descending).limit(1000).all() {
            let mine = request.$requester.id == actor.userID
            let coordinated = !mine && request.workflowState != .draft ? try await req.coordination.coordinates(request, actor) : false
            guard mine || coordinated else { continue }
            items.append(.init(id: request.id!, title: request.title, state: request.state, level: request.level, areas: request.areas,
                               languages: request.languages, formats: request.formats, institutionId: request.$institution.id,
                               submittedAt: request.submittedAt, updatedAt: request.updatedAt))
        }
        return ListDTO(total: items.count, items: items)
    }

    struct MatchDTO: Content {
        var expertId: UUID
        var name: String
        var score: Double
        var aboveThreshold: Bool
        var components: MatchComponents
        var contributions: MatchComponents
    }
    struct MatchesDTO: Content {
        var requestId: UUID
        var level: Int
        var threshold: Double
        var weights: MatchWeights
        var items: [MatchDTO]
    }

    /// The ranked experts of the request's current level, for its coordinators.
    func matches(req: Request) async throws -> MatchesDTO {
        let actor = try await req.requireActor()
        guard let id = req.parameters.get("id", as: UUID.self), let request = try await KnowledgeRequest.find(id, on: req.db) else { throw Abort(.notFound) }
        guard try await req.coordination.coordinates(request, actor) else { throw Forbidden() }
        let (results, profiles, settings) = try await req.coordination.ranking(request, on: req.db)
        let users = try await User.query(on: req.db).filter(\.$id ~~ profiles.values.map(\.$user.id)).all()
        return MatchesDTO(requestId: id, level: request.level, threshold: settings.weights.threshold, weights: settings.weights,
                          items: results.map { result in
                              MatchDTO(expertId: result.expertID,
                                       name: profiles[result.expertID].flatMap { p in users.first { $0.id == p.$user.id }?.name } ?? "",
                                       score: result.score, aboveThreshold: result.aboveThreshold,
                                       components: result.components, contributions: result.contributions)
                          })
    }
}
