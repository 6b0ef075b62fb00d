import Fluent
import Vapor

/// The demo knowledge repository (Resources/Seed/repository.json and repository-files/), loaded through the
/// repository service so every record passes the same validation, workflow and indexing as one typed in the UI.
struct RepositorySeed {
    struct File: Decodable {
        var records: [Record]
    }

    struct Record: Decodable {
        var key: String
        var institution: String
        var author: String
        var state: String
        var visibility: String
        var versions: [Version]
        var reviews: [Review]?
    }

    struct Version: Decodable {
        var title: String
        var description: String
        var creators: [RecordCreator]
        var resourceType: String
        var areas: [String]
        var activityTypes: [String]?
        var languages: [String]
        var audience: String?
        var country: String
        var year: Int
        var licence: String
        var relatedIdentifiers: [RelatedIdentifier]?
        var origin: String?
        var links: [RecordLink]?
        var files: [String]?

        func input(visibility: String) -> RecordInput {
            RecordInput(title: title, description: description, creators: creators, resourceType: resourceType, areas: areas,
                        activityTypes: activityTypes ?? [], languages: languages, audience: audience ?? "", countryCode: country,
                        year: String(year), licence: licence, relatedIdentifiers: relatedIdentifiers ?? [], origin: origin ?? "",
                        links: links ?? [], visibility: visibility, institutionID: "")
        }
    }

    struct Review: Decodable {
        var by: String
        var action: String
        var comment: String
    }

    let app: Application
    let db: any Database

    /// Seeds every record; returns how many were created. Skips when the repository already has records.
    @discardableResult
    func seed() async throws -> Int {
        if try await RepositoryRecord.query(on: db).count() > 0 { return 0 }
        let file = try SeedFile.decode(File.self, named: "repository.json")
        let filesDirectory = DirectoryConfiguration.detect().resourcesDirectory + "Seed/repository-files/"
        let domain = DemoSeeder.domain
        var actors: [String: Actor] = [:]
        func actor(_ local: String) async throws -> Actor {
            if let cached = actors[local] { return cached }
            guard let user = try await User.query(on: db).filter(\.$email == "\(local)@\(domain)").first() else {
                throw ConfigError("repository.json names an unknown demo user: \(local)")
            }
            let loaded = try await Actor.load(for: user, on: db)
            actors[local] = loaded
            return loaded
        }
        let admin = try await actor("admin")
        var count = 0
        for (index, seed) in file.records.enumerated() {
            let author = try await actor(seed.author)
            let reviewer = try await actor(seed.institution == "tirana" ? "curator.tirana" : "coordinator.\(seed.institution)")
            guard let institution = try await Institution.query(on: db).filter(\.$slug == seed.institution).first() else {
                throw ConfigError("repository.json names an unknown institution: \(seed.institution)")
            }
            var service = RepositoryService(db: db, storage: app.fileStorage, index: app.searchIndex, maxUploadBytes: app.config.maxUploadBytes)
            do {
                var record: RepositoryRecord?
                for (number, version) in seed.versions.enumerated() {
                    // Backdate each version to its year so lists and "newest first" look like a real archive.
                    let day = Self.date(year: version.year, dayOfYear: 20 + (index * 7 + number * 40) % 300)
                    service.now = { day }
                    var input = version.input(visibility: seed.visibility)
                    input.institutionID = try institution.requireID().uuidString
                    if let existing = record {
                        _ = try await service.newVersion(existing, by: author)
                        try await service.update(existing, input, by: author)
                    } else {
                        record = try await service.create(input, by: author)
                    }
                    guard let current = record else { continue }
                    for name in version.files ?? [] {
                        guard let data = FileManager.default.contents(atPath: filesDirectory + name) else {
                            throw ConfigError("repository.json names a missing file: \(name)")
                        }
                        _ = try await service.addFile(to: current, filename: name, data: data, by: author)
                    }
                    let isLast = number == seed.versions.count - 1
                    if !isLast || seed.state != "draft" {
                        try await service.submit(current, comment: "", by: author)
                    }
                    if !isLast || ["published", "archived"].contains(seed.state) {
                        try await service.review(current, decision: .approve, comment: "", by: reviewer)
                    }
                }
                guard let record else { continue }
                for review in seed.reviews ?? [] where review.action != "submitted" {
                    let who = (try? await actor(review.by)) ?? admin
                    let decision: RepositoryService.Decision = review.action == "changes_requested" ? .changes : .comment
                    if decision == .changes, seed.state != "draft" { continue }
                    if decision == .comment || seed.state == "in_review" {
                        try await service.review(record, decision: .comment, comment: review.comment, by: who)
                    }
                }
                if seed.state == "archived" {
                    service.now = { Date() }
                    try await service.archive(record, reason: "Superseded.", by: author)
                }
                count += 1
            } catch let errors as FieldErrors {
                throw ConfigError("repository.json record \(seed.key) is invalid: \(errors.fields.map { "\($0.0)=\($0.1)" }.joined(separator: ", "))")
            }
        }
        return count
    }

    static func date(year: Int, dayOfYear: Int) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = calendar.date(from: DateComponents(year: year, month: 1, day: 1, hour: 10)) ?? Date()
        let date = calendar.date(byAdding: .day, value: dayOfYear, to: start) ?? start
        return min(date, Date().addingTimeInterval(-86400))
    }
}
