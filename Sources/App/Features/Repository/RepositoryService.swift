import Fluent
import FluentSQL
import NIOPosix
import Vapor

extension Actor {
    /// Curators review the records of their institution; coordinators above it may too.
    func canCurate(_ place: InstitutionPlace) -> Bool {
        canManage(place) || grants.contains { $0.role == .curator && $0.scopeID == place.institutionID.uuidString }
    }

    /// Institutions where this person holds any institution-scoped role, plus their own.
    var institutionsHeld: Set<UUID> {
        var ids = Set(grants.filter { $0.role.scopeKind == .institution }.compactMap { $0.scopeID.flatMap { UUID(uuidString: $0) } })
        if let home { ids.insert(home.institutionID) }
        return ids
    }
}

/// What a person typed in the record form, before validation (strings, as sent).
struct RecordInput: Sendable {
    var title = ""
    var description = ""
    var creators: [RecordCreator] = []
    var resourceType = ""
    var areas: [String] = []
    var activityTypes: [String] = []
    var languages: [String] = []
    var audience = ""
    var countryCode = ""
    var year = ""
    var licence = ""
    var relatedIdentifiers: [RelatedIdentifier] = []
    var origin = ""
    var links: [RecordLink] = []
    var visibility = "public"
    var institutionID: String = ""
}

/// The rules of the knowledge repository: validation, the review workflow, versions, visibility, files and indexing.
/// Every change is authorised here, whatever the channel (pages, API, seeding).
struct RepositoryService {
    let db: any Database
    let storage: any FileStorage
    let index: any SearchIndex
    var maxUploadBytes: Int
    var now: @Sendable () -> Date = { Date() }

    // MARK: reading and visibility

    /// What this person may find in search.
    func scope(for actor: Actor?) async throws -> VisibilityScope {
        guard let actor else { return .anonymous }
        if actor.isAdmin || actor.isRegionalCoordinator { return VisibilityScope(everything: true, signedIn: true) }
        var institutions = actor.institutionsHeld
        if !actor.coordinatedCountries.isEmpty {
            for institution in try await Institution.query(on: db).filter(\.$countryCode ~~ actor.coordinatedCountries).all() {
                if let id = institution.id { institutions.insert(id) }
            }
        }
        return VisibilityScope(everything: false, signedIn: true, institutions: institutions.sorted { $0.uuidString < $1.uuidString })
    }

    func place(of record: RepositoryRecord) async throws -> InstitutionPlace {
        guard let institution = try await Institution.find(record.$institution.id, on: db) else { throw Abort(.notFound) }
        return InstitutionPlace(institutionID: try institution.requireID(), countryCode: institution.countryCode)
    }

    /// Owner, curators and coordinators of the record's institution.
    func canEdit(_ record: RepositoryRecord, by actor: Actor?) async throws -> Bool {
        guard let actor else { return false }
        if record.$owner.id == actor.userID { return true }
        return actor.canCurate(try await place(of: record))
    }

    func canReview(_ record: RepositoryRecord, by actor: Actor?) async throws -> Bool {
        guard let actor else { return false }
        return actor.canCurate(try await place(of: record))
    }

    /// Whether the record's published versions may be seen by this person (visibility only).
    func canSee(_ record: RepositoryRecord, by actor: Actor?) async throws -> Bool {
        switch record.visibility {
        case .public: return true
        case .network: return actor != nil
        case .institution:
            guard actor != nil else { return false }
            let scope = try await scope(for: actor)
            return scope.everything || scope.institutions.contains(record.$institution.id)
        }
    }

    /// Whether this person may see this version: published (or archived) versions by visibility, work in progress
    /// by the people who edit or review it.
    func canSee(_ version: RecordVersion, of record: RepositoryRecord, by actor: Actor?) async throws -> Bool {
        if try await canEdit(record, by: actor) { return true }
        // Archived records stay visible as a tombstone with a notice, so citations keep working.
        guard version.state == .published || version.state == .archived else { return false }
        return try await canSee(record, by: actor)
    }

    func versions(of record: RepositoryRecord) async throws -> [RecordVersion] {
        try await RecordVersion.query(on: db).filter(\.$record.$id == record.requireID()).sort(\.$number).all()
    }

    func version(_ number: Int, of record: RepositoryRecord) async throws -> RecordVersion? {
        try await RecordVersion.query(on: db).filter(\.$record.$id == record.requireID()).filter(\.$number == number).first()
    }

    /// The version the concept URL shows this person: the newest published one, or for editors of an unpublished
    /// record its newest version. nil when there is nothing they may see.
    func currentVersion(of record: RepositoryRecord, for actor: Actor?) async throws -> RecordVersion? {
        let editor = try await canEdit(record, by: actor)
        let visible = try await canSee(record, by: actor)
        if let published = record.publishedVersion, editor || visible {
            return try await version(published, of: record)
        }
        if editor { return try await version(record.latestVersion, of: record) }
        return nil
    }

    func files(of version: RecordVersion) async throws -> [RecordFile] {
        try await RecordFile.query(on: db).filter(\.$version.$id == version.requireID()).sort(\.$position).all()
    }

    // MARK: validation

    static let relations = ["IsSupplementTo", "IsSupplementedBy", "References", "IsReferencedBy", "IsDerivedFrom", "IsSourceOf",
                            "IsPartOf", "HasPart", "IsDocumentedBy", "Documents", "IsVersionOf", "IsNewVersionOf", "Cites", "IsCitedBy"]
    static let schemes = ["doi", "url", "handle"]

    static func isWebURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, host.contains(".") || host == "localhost" else { return false }
        return !text.contains(" ")
    }

    /// Checks every field; returns clean metadata or the field errors (catalog keys) in form order.
    func validate(_ input: RecordInput) async throws -> (RecordMetadata, RecordVisibility) {
        var errors: [(String, String)] = []
        let title = input.title.trimmingCharacters(in: .whitespacesAndNewlines)
        if title.isEmpty { errors.append(("title", "repository.error.title")) }
        else if title.count > 300 { errors.append(("title", "repository.error.title-long")) }
        let description = input.description.trimmingCharacters(in: .whitespacesAndNewlines)
        if description.isEmpty { errors.append(("description", "repository.error.description")) }
        else if description.count > 20_000 { errors.append(("description", "repository.error.description-long")) }

        var creators: [RecordCreator] = []
        for (index, creator) in input.creators.enumerated() {
            let name = creator.name.trimmingCharacters(in: .whitespaces)
            let affiliation = creator.affiliation.trimmingCharacters(in: .whitespaces)
            let orcidText = (creator.orcid ?? "").trimmingCharacters(in: .whitespaces)
            if name.isEmpty && affiliation.isEmpty && orcidText.isEmpty { continue }
            if name.isEmpty { errors.append(("creators[\(index)][name]", "repository.error.creator-name")) }
            var orcid: String?
            if !orcidText.isEmpty {
                if let valid = ORCID.normalise(orcidText) { orcid = valid } else { errors.append(("creators[\(index)][orcid]", "repository.error.orcid")) }
            }
            creators.append(RecordCreator(name: String(name.prefix(200)), affiliation: String(affiliation.prefix(300)), orcid: orcid))
        }
        if creators.isEmpty { errors.append(("creators[0][name]", "repository.error.creators")) }

        let types = Set(try await ResourceType.query(on: db).all().map(\.code))
        if !types.contains(input.resourceType) { errors.append(("resource_type", "repository.error.resource-type")) }
        let areaCodes = Set(try await Area.query(on: db).all().map(\.code))
        let areas = input.areas.filter(areaCodes.contains)
        if areas.isEmpty || areas.count != input.areas.count { errors.append(("areas", "repository.error.areas")) }
        let activityCodes = Set(try await ActivityType.query(on: db).all().map(\.code))
        if !input.activityTypes.allSatisfy(activityCodes.contains) { errors.append(("activity_types", "repository.error.activity-types")) }
        let languageTags = Set(try await LanguageEntry.query(on: db).all().map(\.tag))
        if input.languages.isEmpty || !input.languages.allSatisfy(languageTags.contains) { errors.append(("languages", "repository.error.languages")) }
        let countries = Set(try await Country.query(on: db).all().map(\.code))
        if !countries.contains(input.countryCode) { errors.append(("country", "repository.error.country")) }
        let thisYear = Calendar(identifier: .gregorian).component(.year, from: now())
        let year = Int(input.year.trimmingCharacters(in: .whitespaces))
        if year == nil || year! < 1950 || year! > thisYear + 1 { errors.append(("year", "repository.error.year")) }
        let licences = Set(try await Licence.query(on: db).all().map(\.spdx))
        if !licences.contains(input.licence) { errors.append(("licence", "repository.error.licence")) }

        var related: [RelatedIdentifier] = []
        for (index, identifier) in input.relatedIdentifiers.enumerated() {
            let value = identifier.value.trimmingCharacters(in: .whitespaces)
            if value.isEmpty { continue }
            let scheme = identifier.scheme.lowercased()
            let ok: Bool
            switch scheme {
            case "doi": ok = value.range(of: #"^10\.\d{4,9}/\S+$"#, options: .regularExpression) != nil
            case "url": ok = Self.isWebURL(value)
            case "handle": ok = value.range(of: #"^\d+(\.\d+)*/\S+$"#, options: .regularExpression) != nil
            default: ok = false
            }
            if !ok { errors.append(("related[\(index)][value]", "repository.error.related")) }
            let relation = Self.relations.contains(identifier.relation) ? identifier.relation : "References"
            related.append(RelatedIdentifier(scheme: scheme, value: value, relation: relation))
        }
        var links: [RecordLink] = []
        for (index, link) in input.links.enumerated() {
            let url = link.url.trimmingCharacters(in: .whitespaces)
            let label = link.label.trimmingCharacters(in: .whitespaces)
            if url.isEmpty && label.isEmpty { continue }
            if !Self.isWebURL(url) { errors.append(("links[\(index)][url]", "repository.error.link")) }
            links.append(RecordLink(label: String((label.isEmpty ? url : label).prefix(200)), url: url))
        }
        guard let visibility = RecordVisibility(rawValue: input.visibility) else {
            errors.append(("visibility", "repository.error.visibility"))
            throw FieldErrors(errors)
        }
        if !errors.isEmpty { throw FieldErrors(errors) }
        return (RecordMetadata(
            title: title, description: description, creators: creators, resourceType: input.resourceType, areas: areas,
            activityTypes: input.activityTypes, languages: input.languages,
            audience: String(input.audience.trimmingCharacters(in: .whitespaces).prefix(300)), countryCode: input.countryCode,
            year: year!, licence: input.licence, relatedIdentifiers: related,
            origin: String(input.origin.trimmingCharacters(in: .whitespacesAndNewlines).prefix(2000)), links: links), visibility)
    }

    // MARK: changes

    /// A new record with version 1 as a draft, at the person's institution (or one they curate).
    func create(_ input: RecordInput, by actor: Actor) async throws -> RepositoryRecord {
        let institutionID: UUID
        if let chosen = UUID(uuidString: input.institutionID) {
            guard actor.institutionsHeld.contains(chosen) || actor.isAdmin else { throw FieldErrors([("institution", "repository.error.institution")]) }
            institutionID = chosen
        } else if let home = actor.home {
            institutionID = home.institutionID
        } else {
            throw FieldErrors([("institution", "repository.error.institution")])
        }
        let (metadata, visibility) = try await validate(input)
        return try await db.transaction { tx in
            let record = RepositoryRecord(institutionID: institutionID, ownerID: actor.userID, visibility: visibility, now: now())
            try await record.create(on: tx)
            try await RecordVersion(recordID: record.requireID(), number: 1, metadata: metadata, createdByID: actor.userID).create(on: tx)
            return record
        }
    }

    /// The version open for editing (draft), if any.
    func draft(of record: RepositoryRecord) async throws -> RecordVersion? {
        guard let latest = try await version(record.latestVersion, of: record), latest.state == .draft else { return nil }
        return latest
    }

    func update(_ record: RepositoryRecord, _ input: RecordInput, by actor: Actor) async throws {
        guard try await canEdit(record, by: actor) else { throw Forbidden() }
        guard let draft = try await draft(of: record) else { throw RepositoryError.notEditable }
        let (metadata, visibility) = try await validate(input)
        try await db.transaction { tx in
            draft.metadata = metadata
            try await draft.save(on: tx)
            try await applyVisibility(visibility, to: record, on: tx)
        }
    }

    /// Changing who may see a record reaches search and harvesters at once.
    func setVisibility(_ record: RepositoryRecord, _ value: String, by actor: Actor) async throws {
        guard try await canEdit(record, by: actor) else { throw Forbidden() }
        guard let visibility = RecordVisibility(rawValue: value) else { throw FieldErrors([("visibility", "repository.error.visibility")]) }
        try await db.transaction { tx in try await applyVisibility(visibility, to: record, on: tx) }
    }

    private func applyVisibility(_ visibility: RecordVisibility, to record: RepositoryRecord, on db: any Database) async throws {
        guard record.visibility != visibility else { return }
        record.visibility = visibility
        record.datestamp = now()
        if record.isHarvestable && record.harvestableSince == nil { record.harvestableSince = now() }
        try await record.save(on: db)
        try await reindex(record, on: db)
    }

    func submit(_ record: RepositoryRecord, comment: String = "", by actor: Actor) async throws {
        guard try await canEdit(record, by: actor) else { throw Forbidden() }
        guard let draft = try await draft(of: record) else { throw RepositoryError.notEditable }
        try await db.transaction { tx in
            draft.state = .inReview
            draft.submittedAt = now()
            try await draft.save(on: tx)
            try await RecordReview(versionID: draft.requireID(), authorID: actor.userID, action: .submitted,
                                   comment: String(comment.prefix(5000))).create(on: tx)
        }
    }

    enum Decision: String, CaseIterable { case approve, changes, comment }

    /// A curator's decision on the version in review: publish it, send it back with comments, or just comment.
    func review(_ record: RepositoryRecord, decision: Decision, comment: String, by actor: Actor) async throws {
        let text = comment.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let latest = try await version(record.latestVersion, of: record) else { throw Abort(.notFound) }
        if decision == .comment {
            guard try await canEdit(record, by: actor) else { throw Forbidden() }
            guard !text.isEmpty else { throw FieldErrors([("comment", "repository.error.comment")]) }
            try await RecordReview(versionID: latest.requireID(), authorID: actor.userID, action: .comment, comment: String(text.prefix(5000))).create(on: db)
            return
        }
        guard try await canReview(record, by: actor) else { throw Forbidden() }
        guard latest.state == .inReview else { throw RepositoryError.notInReview }
        if decision == .changes && text.isEmpty { throw FieldErrors([("comment", "repository.error.changes-comment")]) }
        try await db.transaction { tx in
            if decision == .approve {
                latest.state = .published
                latest.publishedAt = now()
                record.publishedVersion = latest.number
                record.datestamp = now()
                record.oaiSets = try await Self.oaiSets(for: latest, institutionID: record.$institution.id, on: tx)
                if record.isHarvestable && record.harvestableSince == nil { record.harvestableSince = now() }
                try await record.save(on: tx)
            } else {
                latest.state = .draft
            }
            try await latest.save(on: tx)
            try await RecordReview(versionID: latest.requireID(), authorID: actor.userID,
                                   action: decision == .approve ? .approved : .changesRequested, comment: String(text.prefix(5000))).create(on: tx)
            if decision == .approve { try await reindex(record, on: tx) }
        }
    }

    /// Starts version n+1 as a draft copy of the newest version (metadata and files).
    func newVersion(_ record: RepositoryRecord, by actor: Actor) async throws -> RecordVersion {
        guard try await canEdit(record, by: actor) else { throw Forbidden() }
        guard !record.isArchived else { throw RepositoryError.archived }
        guard let latest = try await version(record.latestVersion, of: record), latest.state == .published else {
            throw RepositoryError.versionInProgress
        }
        return try await db.transaction { tx in
            let next = RecordVersion(recordID: try record.requireID(), number: latest.number + 1, metadata: latest.metadata, createdByID: actor.userID)
            try await next.create(on: tx)
            for file in try await RecordFile.query(on: tx).filter(\.$version.$id == latest.requireID()).all() {
                let copy = RecordFile()
                copy.$version.id = try next.requireID()
                copy.filename = file.filename; copy.mediaType = file.mediaType; copy.size = file.size
                copy.sha256 = file.sha256; copy.extractedText = file.extractedText; copy.position = file.position
                try await copy.create(on: tx)
            }
            record.latestVersion = next.number
            try await record.save(on: tx)
            return next
        }
    }

    /// Takes the record out of search; harvesters see it as deleted. Versions stay citable for editors.
    func archive(_ record: RepositoryRecord, reason: String, by actor: Actor) async throws {
        guard try await canEdit(record, by: actor) else { throw Forbidden() }
        guard !record.isArchived else { throw RepositoryError.archived }
        guard let latest = try await version(record.latestVersion, of: record) else { throw Abort(.notFound) }
        try await db.transaction { tx in
            record.archivedAt = now()
            record.datestamp = now()
            try await record.save(on: tx)
            for version in try await RecordVersion.query(on: tx).filter(\.$record.$id == record.requireID()).all() where version.state == .published {
                version.state = .archived
                try await version.save(on: tx)
            }
            try await RecordReview(versionID: latest.requireID(), authorID: actor.userID, action: .archived,
                                   comment: String(reason.trimmingCharacters(in: .whitespacesAndNewlines).prefix(5000))).create(on: tx)
            try await reindex(record, on: tx)
        }
    }

    // MARK: files

    /// Adds a file to the draft: size limit, type from the content, SHA-256, text for the index. Nothing is kept on failure.
    func addFile(to record: RepositoryRecord, filename rawName: String, data: Data, by actor: Actor) async throws -> RecordFile {
        guard try await canEdit(record, by: actor) else { throw Forbidden() }
        guard let draft = try await draft(of: record) else { throw RepositoryError.notEditable }
        let filename = Self.cleanFilename(rawName)
        guard !filename.isEmpty else { throw FieldErrors([("file", "repository.error.file-missing")]) }
        guard data.count <= maxUploadBytes else { throw FieldErrors([("file", "repository.error.file-too-large")]) }
        let checked = ContentSniffer.check(filename: filename, data: data)
        if let problem = checked.problem { throw FieldErrors([("file", "repository.error.file-\(problem)")]) }
        guard let type = checked.type else { throw FieldErrors([("file", "repository.error.file-unknown-type")]) }
        let existing = try await files(of: draft)
        guard existing.count < 20 else { throw FieldErrors([("file", "repository.error.file-count")]) }
        // pdftotext runs as a child process: keep it off the event loops.
        let mediaType = type.mediaType
        let text = try await NIOThreadPool.singleton.runIfActive { TextExtractor.extract(data, mediaType: mediaType) }
        let hash = try storage.put(data)
        let file = RecordFile()
        file.$version.id = try draft.requireID()
        file.filename = filename
        file.mediaType = type.mediaType
        file.size = data.count
        file.sha256 = hash
        file.extractedText = text.map { String($0.prefix(200_000)) }
        file.position = (existing.map(\.position).max() ?? 0) + 1
        try await file.create(on: db)
        return file
    }

    func removeFile(_ fileID: UUID, from record: RepositoryRecord, by actor: Actor) async throws {
        guard try await canEdit(record, by: actor) else { throw Forbidden() }
        guard let draft = try await draft(of: record) else { throw RepositoryError.notEditable }
        guard let file = try await RecordFile.query(on: db).filter(\.$id == fileID).filter(\.$version.$id == draft.requireID()).first() else {
            throw Abort(.notFound)
        }
        // The row goes; the bytes stay (other versions may share them, and storage is append-only).
        try await file.delete(on: db)
    }

    /// A name safe for Content-Disposition and the file system: no path, no control characters.
    static func cleanFilename(_ name: String) -> String {
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = last.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F && $0 != "\"" }
        return String(String.UnicodeScalarView(cleaned)).trimmingCharacters(in: .whitespaces).prefix(200).description
    }

    // MARK: index

    static func oaiSets(for version: RecordVersion, institutionID: UUID, on db: any Database) async throws -> String {
        let slug = try await Institution.find(institutionID, on: db)?.slug ?? institutionID.uuidString
        return " " + (version.areas.map { "area:\($0)" } + ["institution:\(slug)"]).joined(separator: " ") + " "
    }

    /// Puts the record's newest published version in the index, or takes it out (archived, nothing published).
    func reindex(_ record: RepositoryRecord, on db: any Database) async throws {
        if let document = try await document(for: record, on: db) {
            try await index.upsert([document], on: db)
        } else {
            try await index.remove(recordIDs: [record.requireID()], on: db)
        }
    }

    func document(for record: RepositoryRecord, on db: any Database) async throws -> SearchDocument? {
        guard !record.isArchived, let number = record.publishedVersion,
              let version = try await RecordVersion.query(on: db).filter(\.$record.$id == record.requireID()).filter(\.$number == number).first()
        else { return nil }
        let files = try await RecordFile.query(on: db).filter(\.$version.$id == version.requireID()).sort(\.$position).all()
        return Self.document(record: record, version: version, fileTexts: files.map { "\($0.filename)\n\($0.extractedText ?? "")" })
    }

    static func document(record: RepositoryRecord, version: RecordVersion, fileTexts: [String]) -> SearchDocument {
        var body = [version.description]
        body.append(version.creators.map { "\($0.name) \($0.affiliation)" }.joined(separator: "; "))
        body.append(version.audience)
        body.append(version.origin)
        body.append(contentsOf: fileTexts)
        var facets: [(String, String)] = version.areas.map { ("area", $0) }
        facets += version.languages.map { ("language", $0) }
        facets += [("type", version.resourceType), ("country", version.countryCode), ("year", String(version.year)), ("licence", version.licence)]
        return SearchDocument(recordID: record.id!, versionID: version.id!, institutionID: record.$institution.id, visibility: record.visibility,
                              title: version.title, body: body.filter { !$0.isEmpty }.joined(separator: "\n"),
                              publishedAt: version.publishedAt ?? record.datestamp, facets: facets)
    }
}

enum RepositoryError: Error, Equatable {
    case notEditable, notInReview, versionInProgress, archived

    var catalogKey: String {
        switch self {
        case .notEditable: "repository.error.not-editable"
        case .notInReview: "repository.error.not-in-review"
        case .versionInProgress: "repository.error.version-in-progress"
        case .archived: "repository.error.archived"
        }
    }
}

extension Request {
    var repository: RepositoryService {
        RepositoryService(db: db, storage: application.fileStorage, index: application.searchIndex,
                          maxUploadBytes: application.config.maxUploadBytes)
    }
}
