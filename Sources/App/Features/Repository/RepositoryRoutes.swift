import Fluent
import Vapor

/// The knowledge repository's pages: search, record pages with versions and files, the record form,
/// the author's list and the curators' review queue.
struct RepositoryRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let repository = routes.grouped("repository")
        repository.get(use: search)
        repository.get(":id", use: showCurrent)
        repository.get(":id", "v", ":number", use: showVersion)
        repository.get(":id", "v", ":number", "files", ":fileID", use: download)

        let signedIn = repository.grouped(User.redirectMiddleware(path: "/signin"))
        signedIn.get("new", use: newForm)
        signedIn.post(use: create)
        signedIn.get("mine", use: mine)
        signedIn.get("review", use: queue)
        signedIn.get(":id", "edit", use: editForm)
        signedIn.post(":id", "edit", use: update)
        signedIn.on(.POST, ":id", "files", body: .collect(maxSize: "1gb"), use: upload)
        signedIn.post(":id", "files", ":fileID", "delete", use: removeFile)
        signedIn.post(":id", "submit", use: submit)
        signedIn.post(":id", "review", use: review)
        signedIn.post(":id", "archive", use: archive)
        signedIn.post(":id", "new-version", use: newVersion)
        signedIn.post(":id", "visibility", use: visibility)
    }

    static let pageSize = 20

    func record(_ req: Request) async throws -> RepositoryRecord {
        guard let id = req.parameters.get("id", as: UUID.self), let record = try await RepositoryRecord.find(id, on: req.db) else {
            throw Abort(.notFound)
        }
        return record
    }

    // MARK: search

    struct SearchView: Encodable {
        struct Hit: Encodable {
            var href: String
            var title: String
            var snippet: String
            var date: String
            var meta: String
        }
        struct FacetValue: Encodable {
            var label: String
            var count: Int
            var selected: Bool
            var href: String
        }
        struct Facet: Encodable {
            var key: String
            var label: String
            var values: [FacetValue]
        }
        struct Filter: Encodable {
            var label: String
            var removeHref: String
        }
        struct PageLink: Encodable {
            var label: String
            var href: String
            var current: Bool
        }
        var q: String
        var sort: String
        var sorts: [Choice]
        var total: Int
        var totalText: String
        var hits: [Hit]
        var facets: [Facet]
        var filters: [Filter]
        var clearHref: String
        var pages: [PageLink]
        var previous: String?
        var next: String?
        var hasQuery: Bool
        var canCreate: Bool
        var queryNotice: String?
        var hiddenFilters: [Choice]
    }

    /// Names of the facet values in the person's language.
    struct FacetLabels {
        var areas: [String: String] = [:]
        var types: [String: String] = [:]
        var languages: [String: String] = [:]
        var countries: [String: String] = [:]
        var licences: [String: String] = [:]

        static func load(_ req: Request) async throws -> FacetLabels {
            var labels = FacetLabels()
            for area in try await Area.query(on: req.db).all() { labels.areas[area.code] = "\(area.code) · \(localized(area.names, req.locale))" }
            for type in try await ResourceType.query(on: req.db).all() { labels.types[type.code] = localized(type.names, req.locale) }
            for language in try await LanguageEntry.query(on: req.db).all() { labels.languages[language.tag] = localized(language.names, req.locale) }
            for country in try await Country.query(on: req.db).all() { labels.countries[country.code] = localized(country.names, req.locale) }
            for licence in try await Licence.query(on: req.db).all() { labels.licences[licence.spdx] = licence.spdx }
            return labels
        }

        func label(_ facet: String, _ value: String) -> String {
            switch facet {
            case "area": areas[value] ?? value
            case "type": types[value] ?? value
            case "language": languages[value] ?? value
            case "country": countries[value] ?? value
            case "licence": licences[value] ?? value
            default: value
            }
        }
    }

    /// The search parameters of the query string: q, sort, page, and repeated facet parameters.
    struct SearchParameters {
        var q = ""
        var sort = SearchRequest.Sort.relevance
        var page = 1
        var filters: [String: [String]] = [:]

        init(_ req: Request) {
            // Form encoding: a browser sends the search box's spaces as "+".
            for (name, value) in Responding.formPairs(req.url.query ?? "") {
                switch name {
                case "q": q = String(value.prefix(1000))
                case "sort": sort = SearchRequest.Sort(rawValue: value) ?? .relevance
                case "page": page = max(1, min(Int(value) ?? 1, 10_000))
                default:
                    if SearchFacet.all.contains(name), !value.isEmpty, (filters[name]?.count ?? 0) < 20 {
                        if !(filters[name]?.contains(value) ?? false) { filters[name, default: []].append(String(value.prefix(100))) }
                    }
                }
            }
        }

        func href(q: String? = nil, sort: SearchRequest.Sort? = nil, page: Int = 1, filters: [String: [String]]? = nil) -> String {
            var items: [(String, String)] = []
            let text = q ?? self.q
            if !text.isEmpty { items.append(("q", text)) }
            for (facet, values) in (filters ?? self.filters).sorted(by: { $0.key < $1.key }) {
                for value in values { items.append((facet, value)) }
            }
            let order = sort ?? self.sort
            if order != .relevance { items.append(("sort", order.rawValue)) }
            if page > 1 { items.append(("page", String(page))) }
            // Everything but unreserved characters is escaped, "+" included, so it reads back as itself.
            let unreserved = CharacterSet.alphanumerics.union(.init(charactersIn: "-._~"))
            let query = items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")" }.joined(separator: "&")
            return query.isEmpty ? "/repository" : "/repository?" + query
        }

        func toggling(_ facet: String, _ value: String) -> [String: [String]] {
            var result = filters
            var values = result[facet] ?? []
            if let index = values.firstIndex(of: value) { values.remove(at: index) } else { values.append(value) }
            result[facet] = values.isEmpty ? nil : values
            return result
        }
    }

    func search(req: Request) async throws -> Response {
        let parameters = SearchParameters(req)
        let actor = try await req.actor()
        let service = req.repository
        let scope = try await service.scope(for: actor)
        let request = SearchRequest(text: parameters.q, filters: parameters.filters, sort: parameters.sort,
                                    offset: (parameters.page - 1) * Self.pageSize, limit: Self.pageSize, scope: scope)
        let result = try await req.application.searchIndex.search(request, on: req.db, besides: req.besideDatabase)
        let labels = try await FacetLabels.load(req)

        let records = try await RepositoryRecord.query(on: req.db).filter(\.$id ~~ result.hits.map(\.recordID)).all()
        let institutions = try await Institution.query(on: req.db).all()
        var hits: [SearchView.Hit] = []
        for hit in result.hits {
            let record = records.first { $0.id == hit.recordID }
            let institution = institutions.first { $0.id == record?.$institution.id }
            var meta = [req.formatDate(hit.publishedAt)]
            if let institution { meta.insert(localized(institution.names, req.locale), at: 0) }
            if record?.visibility == .network { meta.append(req.t("repository.visibility.network")) }
            if record?.visibility == .institution { meta.append(req.t("repository.visibility.institution")) }
            hits.append(.init(href: "/repository/\(hit.recordID.uuidString)", title: hit.title, snippet: hit.snippet,
                              date: req.formatDate(hit.publishedAt), meta: meta.joined(separator: " · ")))
        }
        var facets: [SearchView.Facet] = []
        for facet in SearchFacet.all {
            var values = (result.facets[facet] ?? []).map { entry in
                SearchView.FacetValue(label: labels.label(facet, entry.value), count: entry.count,
                                      selected: parameters.filters[facet]?.contains(entry.value) ?? false,
                                      href: parameters.href(filters: parameters.toggling(facet, entry.value)))
            }
            // A chosen value with no hits left stays listed, so it can be removed.
            for chosen in parameters.filters[facet] ?? [] where !(result.facets[facet] ?? []).contains(where: { $0.value == chosen }) {
                values.append(.init(label: labels.label(facet, chosen), count: 0, selected: true,
                                    href: parameters.href(filters: parameters.toggling(facet, chosen))))
            }
            if facet == "year" { values.sort { $0.label > $1.label } }
            if !values.isEmpty { facets.append(.init(key: facet, label: req.t("repository.facet.\(facet)"), values: values)) }
        }
        let filters = parameters.filters.sorted { $0.key < $1.key }.flatMap { facet, values in
            values.map { SearchView.Filter(label: "\(req.t("repository.facet.\(facet)")): \(labels.label(facet, $0))",
                                           removeHref: parameters.href(filters: parameters.toggling(facet, $0))) }
        }
        let pageCount = max(1, (result.total + Self.pageSize - 1) / Self.pageSize)
        let window = max(1, parameters.page - 3)...min(pageCount, max(1, parameters.page - 3) + 6)
        let pages = window.map { SearchView.PageLink(label: req.formatNumber(Double($0)), href: parameters.href(page: $0), current: $0 == parameters.page) }
        let trimmed = parameters.q.trimmingCharacters(in: .whitespaces)
        let view = SearchView(
            q: parameters.q, sort: parameters.sort.rawValue,
            sorts: SearchRequest.Sort.allCases.map { .init(value: $0.rawValue, label: req.t("repository.sort.\($0.rawValue)"), selected: $0 == parameters.sort) },
            total: result.total, totalText: req.t("repository.results", req.formatNumber(Double(result.total))),
            hits: hits, facets: facets, filters: filters, clearHref: parameters.href(filters: [:]),
            pages: pageCount > 1 ? pages : [],
            previous: parameters.page > 1 ? parameters.href(page: parameters.page - 1) : nil,
            next: parameters.page < pageCount ? parameters.href(page: parameters.page + 1) : nil,
            hasQuery: !trimmed.isEmpty || !parameters.filters.isEmpty,
            canCreate: actor != nil,
            queryNotice: parameters.q.count > 256 ? req.t("repository.query-shortened") : nil,
            hiddenFilters: parameters.filters.sorted { $0.key < $1.key }.flatMap { facet, values in values.map { Choice(value: $0, label: facet, selected: true) } })
        return try await req.page("repository/search", titleKey: "repository.title", view)
    }

    // MARK: a record

    struct ShowView: Encodable {
        struct Creator: Encodable {
            var name: String
            var affiliation: String
            var orcid: String?
            var orcidURL: String?
        }
        struct FileRow: Encodable {
            var name: String
            var href: String
            var type: String
            var size: String
            var sha256: String
            var deleteAction: String?
        }
        struct VersionRow: Encodable {
            var number: Int
            var href: String
            var state: String
            var date: String
            var current: Bool
        }
        struct ReviewRow: Encodable {
            var who: String
            var action: String
            var comment: String
            var date: String
        }
        struct Item: Encodable {
            var label: String
            var value: String
        }
        var id: String
        var number: Int
        var title: String
        var description: [String]
        var creators: [Creator]
        var facts: [Item]
        var areas: [String]
        var activityTypes: [String]
        var related: [Item]
        var links: [RecordLink]
        var files: [FileRow]
        var versions: [VersionRow]
        var reviews: [ReviewRow]
        var state: String
        var stateCode: String
        var visibility: String
        var visibilityChoices: [Choice]
        var citation: String
        var conceptURL: String
        var versionURL: String
        var olderNotice: String?
        var latestHref: String?
        var archivedNotice: Bool
        var draftNotice: String?
        var canEdit: Bool
        var canSubmit: Bool
        var canReview: Bool
        var canArchive: Bool
        var canNewVersion: Bool
        var canComment: Bool
        var showCommentForm: Bool
        var editHref: String?
        var form: FormState
    }

    func showCurrent(req: Request) async throws -> Response {
        let record = try await record(req)
        let actor = try await req.actor()
        guard let version = try await req.repository.currentVersion(of: record, for: actor) else {
            if actor == nil && record.visibility != .public && record.publishedVersion != nil {
                return req.redirect(to: "/signin?next=" + (req.url.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "/"))
            }
            throw Abort(.notFound)
        }
        return try await req.page("repository/show", titleKey: "repository.record_title", titleArguments: [version.title],
                                  try await showView(req, record, version, actor: actor))
    }

    func showVersion(req: Request) async throws -> Response {
        let record = try await record(req)
        let actor = try await req.actor()
        guard let number = req.parameters.get("number", as: Int.self), let version = try await req.repository.version(number, of: record),
              try await req.repository.canSee(version, of: record, by: actor)
        else { throw Abort(.notFound) }
        return try await req.page("repository/show", titleKey: "repository.record_title", titleArguments: [version.title],
                                  try await showView(req, record, version, actor: actor))
    }

    func showView(_ req: Request, _ record: RepositoryRecord, _ version: RecordVersion, actor: Actor?, form: FormState = FormState()) async throws -> ShowView {
        let service = req.repository
        let id = try record.requireID().uuidString
        let labels = try await FacetLabels.load(req)
        let canEdit = try await service.canEdit(record, by: actor)
        let canReview = try await service.canReview(record, by: actor)
        let files = try await service.files(of: version)
        let isDraft = version.state == .draft && version.number == record.latestVersion
        let activity = try await ActivityType.query(on: req.db).all()
        let institution = try await Institution.find(record.$institution.id, on: req.db)

        var versions: [ShowView.VersionRow] = []
        for other in try await service.versions(of: record) where try await service.canSee(other, of: record, by: actor) || other.state == .archived {
            versions.append(.init(number: other.number, href: "/repository/\(id)/v/\(other.number)", state: req.t("repository.state.\(other.state.rawValue)"),
                                  date: req.formatDate(other.publishedAt ?? other.createdAt), current: other.number == version.number))
        }
        var reviews: [ShowView.ReviewRow] = []
        if canEdit {
            let entries = try await RecordReview.query(on: req.db).filter(\.$version.$id == version.requireID()).sort(\.$createdAt).all()
            let people = try await User.query(on: req.db).filter(\.$id ~~ entries.map(\.authorID)).all()
            reviews = entries.map { entry in
                .init(who: people.first { $0.id == entry.authorID }?.name ?? "?", action: req.t("repository.review.\(entry.action.rawValue)"),
                      comment: entry.comment, date: req.formatDate(entry.createdAt, time: true))
            }
        }
        let base = req.application.config.baseURL
        let creatorsText = version.creators.map(\.name).joined(separator: "; ")
        let citation = "\(creatorsText) (\(version.year)). \(version.title). Version \(version.number). \(institution.map { localized($0.names, req.locale) } ?? ""). \(base)/repository/\(id)/v/\(version.number)"
        var facts: [ShowView.Item] = [
            .init(label: req.t("repository.field.resource_type"), value: labels.label("type", version.resourceType)),
            .init(label: req.t("repository.field.languages"), value: version.languages.map { labels.label("language", $0) }.joined(separator: ", ")),
            .init(label: req.t("repository.field.institution"), value: institution.map { localized($0.names, req.locale) } ?? ""),
            .init(label: req.t("repository.field.country"), value: labels.label("country", version.countryCode)),
            .init(label: req.t("repository.field.year"), value: String(version.year)),
            .init(label: req.t("repository.field.licence"), value: version.licence),
        ]
        if !version.audience.isEmpty { facts.insert(.init(label: req.t("repository.field.audience"), value: version.audience), at: 2) }
        if !version.origin.isEmpty { facts.append(.init(label: req.t("repository.field.origin"), value: version.origin)) }
        let olderNotice: String? = (record.publishedVersion.map { version.number < $0 } ?? false)
            ? req.t("repository.older-version", String(version.number), String(record.publishedVersion!)) : nil
        var draftNotice: String?
        if canEdit, record.latestVersion > version.number, let latest = try await service.version(record.latestVersion, of: record) {
            draftNotice = req.t("repository.work-in-progress", String(latest.number), req.t("repository.state.\(latest.state.rawValue)"))
        }
        return ShowView(
            id: id, number: version.number, title: version.title,
            description: version.description.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            creators: version.creators.map { .init(name: $0.name, affiliation: $0.affiliation, orcid: $0.orcid, orcidURL: $0.orcid.map(ORCID.url)) },
            facts: facts,
            areas: version.areas.map { labels.label("area", $0) },
            activityTypes: version.activityTypes.map { code in activity.first { $0.code == code }.map { localized($0.names, req.locale) } ?? code },
            related: version.relatedIdentifiers.map { .init(label: $0.relation, value: $0.scheme == "doi" ? "https://doi.org/\($0.value)" : $0.value) },
            links: version.links,
            files: files.map { file in
                .init(name: file.filename, href: "/repository/\(id)/v/\(version.number)/files/\(file.id!.uuidString)", type: file.mediaType,
                      size: ByteCountFormatter.string(fromByteCount: Int64(file.size), countStyle: .file), sha256: file.sha256,
                      deleteAction: canEdit && isDraft ? "/repository/\(id)/files/\(file.id!.uuidString)/delete" : nil)
            },
            versions: versions, reviews: reviews,
            state: req.t("repository.state.\(version.state.rawValue)"), stateCode: version.state.rawValue,
            visibility: req.t("repository.visibility.\(record.visibility.rawValue)"),
            visibilityChoices: RecordVisibility.allCases.map { .init(value: $0.rawValue, label: req.t("repository.visibility.\($0.rawValue)"), selected: $0 == record.visibility) },
            citation: citation, conceptURL: "\(base)/repository/\(id)", versionURL: "\(base)/repository/\(id)/v/\(version.number)",
            olderNotice: olderNotice, latestHref: olderNotice != nil ? "/repository/\(id)" : nil,
            archivedNotice: record.isArchived, draftNotice: draftNotice,
            canEdit: canEdit && isDraft, canSubmit: canEdit && isDraft,
            canReview: canReview && version.state == .inReview && version.number == record.latestVersion,
            canArchive: canEdit && !record.isArchived && record.publishedVersion != nil,
            canNewVersion: canEdit && !record.isArchived && version.number == record.latestVersion && version.state == .published,
            canComment: canEdit,
            showCommentForm: canEdit && !(canReview && version.state == .inReview && version.number == record.latestVersion),
            editHref: canEdit && isDraft ? "/repository/\(id)/edit" : nil,
            form: form)
    }

    // MARK: files

    func download(req: Request) async throws -> Response {
        let record = try await record(req)
        let actor = try await req.actor()
        guard let number = req.parameters.get("number", as: Int.self), let fileID = req.parameters.get("fileID", as: UUID.self),
              let version = try await req.repository.version(number, of: record),
              try await req.repository.canSee(version, of: record, by: actor),
              let file = try await RecordFile.query(on: req.db).filter(\.$id == fileID).filter(\.$version.$id == version.requireID()).first()
        else { throw Abort(.notFound) }
        return try FileResponse.make(req, storage: req.application.fileStorage, sha256: file.sha256, size: file.size,
                                     mediaType: file.mediaType, filename: file.filename)
    }

    func upload(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let record = try await record(req)
        struct Upload: Content { var file: File? }
        let upload = try? req.content.decode(Upload.self)
        let file = upload?.file
        do {
            guard let file, !file.filename.isEmpty else { throw FieldErrors([("file", "repository.error.file-missing")]) }
            guard file.data.readableBytes > 0 else { throw FieldErrors([("file", "repository.error.file-empty")]) }
            let stored = try await req.repository.addFile(to: record, filename: file.filename, data: Data(buffer: file.data), by: actor)
            req.flash("success", "repository.file-added", stored.filename)
            return req.seeOther("/repository/\(record.id!.uuidString)/edit#files")
        } catch let errors as FieldErrors {
            return try await renderEdit(req, record, actor: actor, errors: errors, status: .unprocessableEntity)
        } catch let error as RepositoryError {
            req.flash("error", error.catalogKey)
            return req.seeOther("/repository/\(record.id!.uuidString)")
        }
    }

    func removeFile(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let record = try await record(req)
        guard let fileID = req.parameters.get("fileID", as: UUID.self) else { throw Abort(.notFound) }
        do {
            try await req.repository.removeFile(fileID, from: record, by: actor)
            req.flash("success", "repository.file-removed")
        } catch let error as RepositoryError {
            req.flash("error", error.catalogKey)
        }
        return req.seeOther("/repository/\(record.id!.uuidString)/edit#files")
    }

    // MARK: the form

    struct FormView: Encodable {
        struct CreatorRow: Encodable {
            var index: Int
            var name: String
            var affiliation: String
            var orcid: String
            var nameError: String?
            var orcidError: String?
        }
        struct RelatedRow: Encodable {
            var index: Int
            var schemes: [Choice]
            var value: String
            var relations: [Choice]
            var error: String?
        }
        struct LinkRow: Encodable {
            var index: Int
            var label: String
            var url: String
            var error: String?
        }
        struct FileRow: Encodable {
            var name: String
            var href: String
            var size: String
            var type: String
            var deleteAction: String
        }
        var form: FormState
        var action: String
        var isNew: Bool
        var recordID: String?
        var versionNumber: Int
        var creators: [CreatorRow]
        var related: [RelatedRow]
        var links: [LinkRow]
        var resourceTypes: [Choice]
        var areas: [Choice]
        var activityTypes: [Choice]
        var languages: [Choice]
        var countries: [Choice]
        var licences: [Choice]
        var visibilities: [Choice]
        var institutions: [Choice]
        var files: [FileRow]
        var maxUpload: String
        var fileError: String?
    }

    /// Field names as sent → element ids, so the error summary links land on the field.
    static func fieldID(_ name: String) -> String {
        name.replacingOccurrences(of: "][", with: "-").replacingOccurrences(of: "[", with: "-").replacingOccurrences(of: "]", with: "")
    }

    static func input(from pairs: [(String, String)]) -> RecordInput {
        var input = RecordInput()
        var creators: [Int: RecordCreator] = [:]
        var related: [Int: RelatedIdentifier] = [:]
        var links: [Int: RecordLink] = [:]
        for (name, value) in pairs {
            switch name {
            case "title": input.title = value
            case "description": input.description = value
            case "resource_type": input.resourceType = value
            case "areas[]": input.areas.append(value)
            case "activity_types[]": input.activityTypes.append(value)
            case "languages[]": input.languages.append(value)
            case "audience": input.audience = value
            case "country": input.countryCode = value
            case "year": input.year = value
            case "licence": input.licence = value
            case "origin": input.origin = value
            case "visibility": input.visibility = value
            case "institution": input.institutionID = value
            default:
                let parts = name.split(whereSeparator: { $0 == "[" || $0 == "]" }).map(String.init)
                guard parts.count == 3, let index = Int(parts[1]), index >= 0, index < 50 else { continue }
                switch (parts[0], parts[2]) {
                case ("creators", "name"): creators[index, default: .init(name: "", affiliation: "")].name = value
                case ("creators", "affiliation"): creators[index, default: .init(name: "", affiliation: "")].affiliation = value
                case ("creators", "orcid"): creators[index, default: .init(name: "", affiliation: "")].orcid = value
                case ("related", "scheme"): related[index, default: .init(scheme: "", value: "", relation: "")].scheme = value
                case ("related", "value"): related[index, default: .init(scheme: "", value: "", relation: "")].value = value
                case ("related", "relation"): related[index, default: .init(scheme: "", value: "", relation: "")].relation = value
                case ("links", "label"): links[index, default: .init(label: "", url: "")].label = value
                case ("links", "url"): links[index, default: .init(label: "", url: "")].url = value
                default: continue
                }
            }
        }
        input.creators = creators.keys.sorted().map { creators[$0]! }
        input.relatedIdentifiers = related.keys.sorted().map { related[$0]! }
        input.links = links.keys.sorted().map { links[$0]! }
        return input
    }

    static func input(from version: RecordVersion, record: RepositoryRecord) -> RecordInput {
        RecordInput(title: version.title, description: version.description, creators: version.creators, resourceType: version.resourceType,
                    areas: version.areas, activityTypes: version.activityTypes, languages: version.languages, audience: version.audience,
                    countryCode: version.countryCode, year: String(version.year), licence: version.licence,
                    relatedIdentifiers: version.relatedIdentifiers, origin: version.origin, links: version.links,
                    visibility: record.visibility.rawValue, institutionID: record.$institution.id.uuidString)
    }

    func formView(_ req: Request, _ input: RecordInput, errors: FieldErrors?, actor: Actor, record: RepositoryRecord?) async throws -> FormView {
        var form = FormState(values: [
            "title": input.title, "description": input.description, "audience": input.audience, "year": input.year, "origin": input.origin,
        ])
        var messages: [String: String] = [:]
        for (field, key) in errors?.fields ?? [] {
            let id = Self.fieldID(field)
            form.add(id, req.t(key))
            messages[field] = req.t(key)
        }
        let creatorRows = input.creators + Array(repeating: RecordCreator(name: "", affiliation: "", orcid: nil), count: input.creators.isEmpty ? 2 : 1)
        let relatedRows = input.relatedIdentifiers + [RelatedIdentifier(scheme: "doi", value: "", relation: "References")]
        let linkRows = input.links + [RecordLink(label: "", url: "")]
        func choices(_ pairs: [(String, String)], _ selected: Set<String>) -> [Choice] {
            pairs.map { Choice(value: $0.0, label: $0.1, selected: selected.contains($0.0)) }
        }
        let areas = try await Area.query(on: req.db).sort(\.$position).all().map { ($0.code, "\($0.code) · \(localized($0.names, req.locale))") }
        let activity = try await ActivityType.query(on: req.db).all().map { ($0.code, localized($0.names, req.locale)) }.sorted { $0.1 < $1.1 }
        let languages = try await LanguageEntry.query(on: req.db).all().map { ($0.tag, "\(localized($0.names, req.locale)) (\($0.native))") }
        let types = try await ResourceType.query(on: req.db).all().map { ($0.code, localized($0.names, req.locale)) }
        let countries = try await Country.query(on: req.db).sort(\.$code).all().map { ($0.code, localized($0.names, req.locale)) }
        let licences = try await Licence.query(on: req.db).all().map { ($0.spdx, "\($0.spdx) — \($0.name)") }
        var institutionChoices: [(String, String)] = []
        let held = actor.isAdmin ? nil : actor.institutionsHeld
        for institution in try await Institution.query(on: req.db).all() where held?.contains(institution.id!) ?? true {
            institutionChoices.append((institution.id!.uuidString, localized(institution.names, req.locale)))
        }
        var files: [FormView.FileRow] = []
        var versionNumber = 1
        if let record, let draft = try await req.repository.draft(of: record) {
            versionNumber = draft.number
            files = try await req.repository.files(of: draft).map { file in
                .init(name: file.filename, href: "/repository/\(record.id!.uuidString)/v/\(draft.number)/files/\(file.id!.uuidString)",
                      size: ByteCountFormatter.string(fromByteCount: Int64(file.size), countStyle: .file), type: file.mediaType,
                      deleteAction: "/repository/\(record.id!.uuidString)/files/\(file.id!.uuidString)/delete")
            }
        }
        let typeSelection = input.resourceType.isEmpty ? [""] : [input.resourceType]
        return FormView(
            form: form, action: record.map { "/repository/\($0.id!.uuidString)/edit" } ?? "/repository", isNew: record == nil,
            recordID: record?.id?.uuidString, versionNumber: versionNumber,
            creators: creatorRows.enumerated().map { index, creator in
                .init(index: index, name: creator.name, affiliation: creator.affiliation, orcid: creator.orcid ?? "",
                      nameError: messages["creators[\(index)][name]"], orcidError: messages["creators[\(index)][orcid]"])
            },
            related: relatedRows.enumerated().map { index, identifier in
                .init(index: index, schemes: choices(RepositoryService.schemes.map { ($0, req.t("repository.scheme.\($0)")) }, [identifier.scheme]),
                      value: identifier.value,
                      relations: choices(RepositoryService.relations.map { ($0, $0) }, [identifier.relation.isEmpty ? "References" : identifier.relation]),
                      error: messages["related[\(index)][value]"])
            },
            links: linkRows.enumerated().map { index, link in .init(index: index, label: link.label, url: link.url, error: messages["links[\(index)][url]"]) },
            resourceTypes: [Choice(value: "", label: req.t("form.choose"), selected: input.resourceType.isEmpty)] + choices(types, Set(typeSelection)),
            areas: choices(areas, Set(input.areas)),
            activityTypes: choices(activity, Set(input.activityTypes)),
            languages: choices(languages, Set(input.languages)),
            countries: choices(countries, [input.countryCode]),
            licences: choices(licences, [input.licence]),
            visibilities: RecordVisibility.allCases.map { .init(value: $0.rawValue, label: req.t("repository.visibility.\($0.rawValue)"), selected: $0.rawValue == input.visibility) },
            institutions: choices(institutionChoices.sorted { $0.1 < $1.1 }, [input.institutionID]),
            files: files,
            maxUpload: ByteCountFormatter.string(fromByteCount: Int64(req.application.config.maxUploadBytes), countStyle: .file),
            fileError: messages["file"])
    }

    func newForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        var input = RecordInput()
        input.institutionID = actor.home?.institutionID.uuidString ?? ""
        input.countryCode = actor.home?.countryCode ?? ""
        input.year = String(Calendar(identifier: .gregorian).component(.year, from: Date()))
        input.licence = "CC-BY-4.0"
        input.languages = [req.locale.rawValue]
        if let user = req.auth.get(User.self) {
            let affiliation = try await user.$institution.id.asyncMap { try await Institution.find($0, on: req.db) }??.names["en"] ?? ""
            input.creators = [RecordCreator(name: user.name, affiliation: affiliation, orcid: nil)]
        }
        return try await req.page("repository/form", titleKey: "repository.new", try await formView(req, input, errors: nil, actor: actor, record: nil))
    }

    func create(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let input = Self.input(from: Responding.formPairs(req.body.string ?? ""))
        do {
            let record = try await req.repository.create(input, by: actor)
            req.flash("success", "repository.created")
            return req.seeOther("/repository/\(record.id!.uuidString)/edit#files")
        } catch let errors as FieldErrors {
            return try await req.page("repository/form", titleKey: "repository.new",
                                      try await formView(req, input, errors: errors, actor: actor, record: nil), status: .unprocessableEntity)
        }
    }

    func editForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let record = try await record(req)
        return try await renderEdit(req, record, actor: actor, errors: nil, status: .ok)
    }

    func renderEdit(_ req: Request, _ record: RepositoryRecord, actor: Actor, errors: FieldErrors?, input: RecordInput? = nil, status: HTTPStatus) async throws -> Response {
        guard try await req.repository.canEdit(record, by: actor) else { throw Forbidden() }
        guard let draft = try await req.repository.draft(of: record) else {
            req.flash("error", RepositoryError.notEditable.catalogKey)
            return req.seeOther("/repository/\(record.id!.uuidString)")
        }
        let view = try await formView(req, input ?? Self.input(from: draft, record: record), errors: errors, actor: actor, record: record)
        return try await req.page("repository/form", titleKey: "repository.edit", titleArguments: [draft.title], view, status: status)
    }

    func update(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let record = try await record(req)
        let pairs = Responding.formPairs(req.body.string ?? "")
        var input = Self.input(from: pairs)
        input.institutionID = record.$institution.id.uuidString
        do {
            try await req.repository.update(record, input, by: actor)
            if pairs.contains(where: { $0.0 == "then" && $0.1 == "submit" }) {
                try await req.repository.submit(record, by: actor)
                req.flash("success", "repository.submitted")
                return req.seeOther("/repository/\(record.id!.uuidString)")
            }
            req.flash("success", "repository.saved")
            return req.seeOther("/repository/\(record.id!.uuidString)/edit")
        } catch let errors as FieldErrors {
            return try await renderEdit(req, record, actor: actor, errors: errors, input: input, status: .unprocessableEntity)
        } catch let error as RepositoryError {
            req.flash("error", error.catalogKey)
            return req.seeOther("/repository/\(record.id!.uuidString)")
        }
    }

    // MARK: workflow

    struct CommentForm: Content {
        var comment: String?
        var decision: String?
        var visibility: String?
    }

    /// Runs a workflow step; on a rule error the record page says why, on a form error it comes back with the text kept.
    func step(_ req: Request, success: String, _ body: (RepositoryService, RepositoryRecord, Actor, CommentForm) async throws -> Void) async throws -> Response {
        let actor = try await req.requireActor()
        let record = try await record(req)
        let form = (try? req.content.decode(CommentForm.self)) ?? CommentForm()
        do {
            try await body(req.repository, record, actor, form)
            req.flash("success", success)
        } catch let error as RepositoryError {
            req.flash("error", error.catalogKey)
        } catch let errors as FieldErrors {
            var state = FormState(values: ["comment": form.comment ?? ""])
            for (field, key) in errors.fields { state.add(field, req.t(key)) }
            guard let version = try await req.repository.currentVersion(of: record, for: actor) else { throw Abort(.notFound) }
            let latest = try await req.repository.version(record.latestVersion, of: record) ?? version
            return try await req.page("repository/show", titleKey: "repository.record_title", titleArguments: [latest.title],
                                      try await showView(req, record, latest, actor: actor, form: state), status: .unprocessableEntity)
        }
        return req.seeOther("/repository/\(record.id!.uuidString)")
    }

    func submit(req: Request) async throws -> Response {
        try await step(req, success: "repository.submitted") { service, record, actor, form in
            try await service.submit(record, comment: form.comment ?? "", by: actor)
        }
    }

    func review(req: Request) async throws -> Response {
        let decision = RepositoryService.Decision(rawValue: (try? req.content.get(String.self, at: "decision")) ?? "") ?? .comment
        return try await step(req, success: "repository.reviewed.\(decision.rawValue)") { service, record, actor, form in
            try await service.review(record, decision: decision, comment: form.comment ?? "", by: actor)
        }
    }

    func archive(req: Request) async throws -> Response {
        try await step(req, success: "repository.archived") { service, record, actor, form in
            try await service.archive(record, reason: form.comment ?? "", by: actor)
        }
    }

    func visibility(req: Request) async throws -> Response {
        try await step(req, success: "repository.visibility-changed") { service, record, actor, form in
            try await service.setVisibility(record, form.visibility ?? "", by: actor)
        }
    }

    func newVersion(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let record = try await record(req)
        do {
            let version = try await req.repository.newVersion(record, by: actor)
            req.flash("success", "repository.version-started", String(version.number))
            return req.seeOther("/repository/\(record.id!.uuidString)/edit")
        } catch let error as RepositoryError {
            req.flash("error", error.catalogKey)
            return req.seeOther("/repository/\(record.id!.uuidString)")
        }
    }

    // MARK: lists

    struct ListView: Encodable {
        struct Row: Encodable {
            var href: String
            var title: String
            var version: Int
            var state: String
            var stateCode: String
            var institution: String
            var visibility: String
            var updated: String
            var submittedBy: String?
        }
        var rows: [Row]
        var emptyKey: String
    }

    func rows(_ req: Request, records: [RepositoryRecord], versionFilter: (RecordVersion) -> Bool) async throws -> [ListView.Row] {
        let institutions = try await Institution.query(on: req.db).all()
        let versions = try await RecordVersion.query(on: req.db).filter(\.$record.$id ~~ records.compactMap(\.id)).all()
        let owners = try await User.query(on: req.db).filter(\.$id ~~ records.map(\.$owner.id)).all()
        var rows: [ListView.Row] = []
        for record in records {
            guard let latest = versions.first(where: { $0.$record.id == record.id && $0.number == record.latestVersion }), versionFilter(latest) else { continue }
            let state = record.isArchived ? RecordState.archived : latest.state
            rows.append(.init(href: "/repository/\(record.id!.uuidString)", title: latest.title, version: latest.number,
                              state: req.t("repository.state.\(state.rawValue)"), stateCode: state.rawValue,
                              institution: institutions.first { $0.id == record.$institution.id }.map { localized($0.names, req.locale) } ?? "",
                              visibility: req.t("repository.visibility.\(record.visibility.rawValue)"),
                              updated: req.formatDate(latest.updatedAt ?? latest.createdAt),
                              submittedBy: owners.first { $0.id == record.$owner.id }?.name))
        }
        return rows
    }

    func mine(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let records = try await RepositoryRecord.query(on: req.db).filter(\.$owner.$id == actor.userID).sort(\.$updatedAt, .descending).all()
        let view = ListView(rows: try await rows(req, records: records) { _ in true }, emptyKey: "repository.mine.empty")
        return try await req.page("repository/list", titleKey: "repository.mine", view)
    }

    /// Versions waiting for review at the institutions this person curates.
    func queue(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let institutions = try await Institution.query(on: req.db).all().filter { $0.place.map(actor.canCurate) ?? false }
        guard !institutions.isEmpty else { throw Forbidden() }
        let waiting = try await RecordVersion.query(on: req.db).filter(\.$state == .inReview).all()
        let records = try await RepositoryRecord.query(on: req.db)
            .filter(\.$id ~~ waiting.map(\.$record.id))
            .filter(\.$institution.$id ~~ institutions.compactMap(\.id))
            .sort(\.$updatedAt).all()
        let view = ListView(rows: try await rows(req, records: records) { $0.state == .inReview }, emptyKey: "repository.review.empty")
        return try await req.page("repository/list", titleKey: "repository.review-queue", view)
    }
}

/// File downloads with the stored type, a safe Content-Disposition and single byte-range requests (206/416).
enum FileResponse {
    static let inlineTypes: Set<String> = ["application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4", "audio/mpeg"]

    static func make(_ req: Request, storage: any FileStorage, sha256: String, size: Int, mediaType: String, filename: String) throws -> Response {
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: mediaType)
        let ascii = String(filename.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 ? Character($0) : "_" })
        let encoded = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? ascii
        let disposition = inlineTypes.contains(mediaType) ? "inline" : "attachment"
        headers.replaceOrAdd(name: .contentDisposition, value: "\(disposition); filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)")
        headers.replaceOrAdd(name: .acceptRanges, value: "bytes")
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        headers.replaceOrAdd(name: .eTag, value: "\"\(sha256)\"")
        headers.replaceOrAdd(name: .cacheControl, value: "private, max-age=3600")
        if let range = req.headers.first(name: .range) {
            guard let (start, end) = parse(range: range, size: size) else {
                headers.replaceOrAdd(name: .contentRange, value: "bytes */\(size)")
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
            let data = try storage.read(sha256, offset: start, length: end - start + 1)
            headers.replaceOrAdd(name: .contentRange, value: "bytes \(start)-\(end)/\(size)")
            return Response(status: .partialContent, headers: headers, body: .init(data: data))
        }
        return Response(status: .ok, headers: headers, body: .init(data: try storage.read(sha256, offset: 0, length: nil)))
    }

    /// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range). nil when unsatisfiable or malformed.
    static func parse(range header: String, size: Int) -> (Int, Int)? {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = header.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces), last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return nil }
            return (max(0, size - suffix), size - 1)
        }
        guard let start = Int(first), start >= 0, start < size else { return nil }
        if last.isEmpty { return (start, size - 1) }
        guard let end = Int(last), end >= start else { return nil }
        return (start, min(end, size - 1))
    }
}
