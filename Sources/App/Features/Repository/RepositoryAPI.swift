import Fluent
import Vapor

/// /api/v1/records: search (anonymous callers see public records), read, create, update, submit and archive.
/// The same service as the pages, so the same rules and visibility apply.
struct RepositoryAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let api = routes.grouped("api", "v1", "records").grouped(TokenAuthenticator())
        api.get(use: search)
        api.get(":id", use: show)
        let signedIn = api.grouped(User.guardMiddleware())
        signedIn.post(use: create)
        signedIn.put(":id", use: update)
        signedIn.post(":id", "submit", use: submit)
        signedIn.delete(":id", use: archive)
    }

    struct FacetDTO: Content {
        var value: String
        var label: String
        var count: Int
    }

    struct HitDTO: Content {
        var id: UUID
        var title: String
        var snippet: String
        var publishedAt: Date
        var url: String
    }

    struct SearchDTO: Content {
        var total: Int
        var page: Int
        var perPage: Int
        var items: [HitDTO]
        var facets: [String: [FacetDTO]]
    }

    func search(req: Request) async throws -> SearchDTO {
        let parameters = RepositoryRoutes.SearchParameters(req)
        let perPage = max(1, min((try? req.query.get(Int.self, at: "per_page")) ?? 20, 100))
        let scope = try await req.repository.scope(for: try await req.actor())
        let result = try await req.application.searchIndex.search(
            SearchRequest(text: parameters.q, filters: parameters.filters, sort: parameters.sort,
                          offset: (parameters.page - 1) * perPage, limit: perPage, scope: scope), on: req.db, besides: req.besideDatabase)
        let labels = try await RepositoryRoutes.FacetLabels.load(req)
        let base = req.application.config.baseURL
        return SearchDTO(
            total: result.total, page: parameters.page, perPage: perPage,
            items: result.hits.map { .init(id: $0.recordID, title: $0.title, snippet: $0.snippet, publishedAt: $0.publishedAt,
                                           url: "\(base)/repository/\($0.recordID.uuidString)") },
            facets: result.facets.reduce(into: [:]) { out, pair in
                    out[pair.key] = pair.value.map { FacetDTO(value: $0.value, label: labels.label(pair.key, $0.value), count: $0.count) }
                })
    }

    struct FileDTO: Content {
        var id: UUID
        var filename: String
        var mediaType: String
        var size: Int
        var sha256: String
        var url: String
    }

    struct VersionDTO: Content {
        var number: Int
        var state: String
        var publishedAt: Date?
        var url: String
    }

    /// A record as JSON: the version's metadata (flat, the same property names as `RecordMetadata`) plus its place.
    struct RecordDTO: Content {
        var id: UUID
        var version: Int
        var state: String
        var visibility: String
        var institutionId: UUID
        var archived: Bool
        var metadata: RecordMetadata
        var files: [FileDTO]
        var versions: [VersionDTO]
        var url: String

        private enum CodingKeys: String, CodingKey { case id, version, state, visibility, institutionId, archived, files, versions, url }

        init(id: UUID, version: Int, state: String, visibility: String, institutionId: UUID, archived: Bool, metadata: RecordMetadata,
             files: [FileDTO], versions: [VersionDTO], url: String) {
            self.id = id; self.version = version; self.state = state; self.visibility = visibility; self.institutionId = institutionId
            self.archived = archived; self.metadata = metadata; self.files = files; self.versions = versions; self.url = url
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(id: try container.decode(UUID.self, forKey: .id), version: try container.decode(Int.self, forKey: .version),
                      state: try container.decode(String.self, forKey: .state), visibility: try container.decode(String.self, forKey: .visibility),
                      institutionId: try container.decode(UUID.self, forKey: .institutionId), archived: try container.decode(Bool.self, forKey: .archived),
                      metadata: try RecordMetadata(from: decoder), files: try container.decode([FileDTO].self, forKey: .files),
                      versions: try container.decode([VersionDTO].self, forKey: .versions), url: try container.decode(String.self, forKey: .url))
        }

        func encode(to encoder: any Encoder) throws {
            try metadata.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id); try container.encode(version, forKey: .version)
            try container.encode(state, forKey: .state); try container.encode(visibility, forKey: .visibility)
            try container.encode(institutionId, forKey: .institutionId); try container.encode(archived, forKey: .archived)
            try container.encode(files, forKey: .files); try container.encode(versions, forKey: .versions); try container.encode(url, forKey: .url)
        }
    }

    func dto(_ req: Request, _ record: RepositoryRecord, _ version: RecordVersion, actor: Actor?) async throws -> RecordDTO {
        let service = req.repository
        let id = try record.requireID()
        let base = req.application.config.baseURL
        var versions: [VersionDTO] = []
        for other in try await service.versions(of: record) where try await service.canSee(other, of: record, by: actor) {
            versions.append(.init(number: other.number, state: other.state.rawValue, publishedAt: other.publishedAt,
                                  url: "\(base)/repository/\(id.uuidString)/v/\(other.number)"))
        }
        return RecordDTO(
            id: id, version: version.number, state: version.state.rawValue, visibility: record.visibility.rawValue,
            institutionId: record.$institution.id, archived: record.isArchived, metadata: version.metadata,
            files: try await service.files(of: version).map { file in
                .init(id: file.id!, filename: file.filename, mediaType: file.mediaType, size: file.size, sha256: file.sha256,
                      url: "\(base)/repository/\(id.uuidString)/v/\(version.number)/files/\(file.id!.uuidString)")
            },
            versions: versions, url: "\(base)/repository/\(id.uuidString)")
    }

    func record(_ req: Request) async throws -> RepositoryRecord {
        guard let id = req.parameters.get("id", as: UUID.self), let record = try await RepositoryRecord.find(id, on: req.db) else {
            throw Abort(.notFound)
        }
        return record
    }

    func show(req: Request) async throws -> RecordDTO {
        let record = try await record(req)
        let actor = try await req.actor()
        guard let version = try await req.repository.currentVersion(of: record, for: actor) else { throw Abort(.notFound) }
        return try await dto(req, record, version, actor: actor)
    }

    struct RecordBody: Content {
        var title: String?
        var description: String?
        var creators: [RecordCreator]?
        var resourceType: String?
        var areas: [String]?
        var activityTypes: [String]?
        var languages: [String]?
        var audience: String?
        var countryCode: String?
        var year: Int?
        var licence: String?
        var relatedIdentifiers: [RelatedIdentifier]?
        var origin: String?
        var links: [RecordLink]?
        var visibility: String?
        var institutionId: UUID?

        var input: RecordInput {
            RecordInput(title: title ?? "", description: description ?? "", creators: creators ?? [], resourceType: resourceType ?? "",
                        areas: areas ?? [], activityTypes: activityTypes ?? [], languages: languages ?? [], audience: audience ?? "",
                        countryCode: countryCode ?? "", year: year.map(String.init) ?? "", licence: licence ?? "",
                        relatedIdentifiers: relatedIdentifiers ?? [], origin: origin ?? "", links: links ?? [],
                        visibility: visibility ?? "public", institutionID: institutionId?.uuidString ?? "")
        }
    }

    /// Form field names → JSON property paths ("creators[0][orcid]" → "creators[0].orcid").
    static func apiField(_ field: String) -> String {
        let named = ["resource_type": "resourceType", "activity_types": "activityTypes", "country": "countryCode",
                     "institution": "institutionId"]
        if let name = named[field] { return name }
        let parts = field.split(whereSeparator: { $0 == "[" || $0 == "]" }).map(String.init)
        guard parts.count == 3 else { return field }
        let list = ["related": "relatedIdentifiers"][parts[0]] ?? parts[0]
        return "\(list)[\(parts[1])].\(parts[2])"
    }

    func problem(_ req: Request, _ errors: FieldErrors) -> ValidationProblem {
        ValidationProblem(errors: Dictionary(errors.fields.map { (Self.apiField($0.0), req.t($0.1)) }, uniquingKeysWith: { a, _ in a }))
    }

    func ruleProblem(_ req: Request, _ error: RepositoryError) -> Abort {
        Abort(.conflict, reason: req.t(error.catalogKey))
    }

    func create(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let body = try req.content.decode(RecordBody.self)
        do {
            let record = try await req.repository.create(body.input, by: actor)
            guard let version = try await req.repository.version(1, of: record) else { throw Abort(.internalServerError) }
            let response = try await dto(req, record, version, actor: actor).encodeResponse(status: .created, for: req)
            response.headers.replaceOrAdd(name: .location, value: "/api/v1/records/\(record.id!.uuidString)")
            return response
        } catch let errors as FieldErrors {
            throw problem(req, errors)
        }
    }

    func update(req: Request) async throws -> RecordDTO {
        let actor = try await req.requireActor()
        let record = try await record(req)
        let body = try req.content.decode(RecordBody.self)
        var input = body.input
        input.institutionID = record.$institution.id.uuidString
        do {
            try await req.repository.update(record, input, by: actor)
        } catch let errors as FieldErrors {
            throw problem(req, errors)
        } catch let error as RepositoryError {
            throw ruleProblem(req, error)
        }
        guard let version = try await req.repository.version(record.latestVersion, of: record) else { throw Abort(.notFound) }
        return try await dto(req, record, version, actor: actor)
    }

    func submit(req: Request) async throws -> RecordDTO {
        let actor = try await req.requireActor()
        let record = try await record(req)
        do {
            try await req.repository.submit(record, by: actor)
        } catch let error as RepositoryError {
            throw ruleProblem(req, error)
        }
        guard let version = try await req.repository.version(record.latestVersion, of: record) else { throw Abort(.notFound) }
        return try await dto(req, record, version, actor: actor)
    }

    func archive(req: Request) async throws -> HTTPStatus {
        let actor = try await req.requireActor()
        let record = try await record(req)
        do {
            try await req.repository.archive(record, reason: (try? req.query.get(String.self, at: "reason")) ?? "", by: actor)
        } catch let error as RepositoryError {
            throw ruleProblem(req, error)
        }
        return .noContent
    }
}
