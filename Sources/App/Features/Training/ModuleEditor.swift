import Fluent
import Vapor

/// Writing modules: trainers and coordinators propose and edit modules one language at a time; the module moves
/// proposed → in design → piloted → approved → published → retired; coordinators approve and publish. Editing an
/// approved or published module keeps the earlier text as a numbered version.
enum ModuleWorkflow {
    static let next: [TrainingModule.State: [TrainingModule.State]] = [
        .proposed: [.inDesign, .retired],
        .inDesign: [.piloted, .retired],
        .piloted: [.approved, .inDesign, .retired],
        .approved: [.published, .inDesign, .retired],
        .published: [.inDesign, .retired],
        .retired: [.inDesign],
    ]

    /// Approving and publishing (and bringing a module back) are for coordinators.
    static func needsCoordinator(_ state: TrainingModule.State) -> Bool { [.approved, .published].contains(state) }

    static func canMove(from: TrainingModule.State, to: TrainingModule.State) -> Bool { next[from]?.contains(to) ?? false }
}

struct ModuleInput: Equatable, Sendable {
    var language = "en"
    var title = ""
    var summary = ""
    var outcomes = ""
    var sections: [String: String] = [:]
    var areas: [String] = []
    var hours = ""
    var format = "workshop"
    var kind = TrainingModule.Kind.module.rawValue
    /// Repository record ids or URLs, one per line.
    var materials = ""
}

struct ModuleService {
    let db: any Database

    func canWrite(_ actor: Actor) -> Bool { actor.isCoordinator || actor.holds(.trainer) || actor.holds(.expert) }

    func canEdit(_ module: TrainingModule, _ actor: Actor) async throws -> Bool {
        if actor.isAdmin || actor.isRegionalCoordinator { return true }
        if module.createdByID == actor.userID && !ModuleWorkflow.needsCoordinator(module.state) { return true }
        guard let owner = module.$institution.id, let institution = try await Institution.find(owner, on: db) else { return false }
        return actor.canManage(InstitutionPlace(institutionID: owner, countryCode: institution.countryCode))
    }

    static func slug(_ title: String) -> String {
        let folded = title.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: Locale(identifier: "en"))
        let words = folded.lowercased().split { !($0.isLetter && $0.isASCII) && !$0.isNumber }.prefix(8)
        return words.joined(separator: "-").prefix(60).description
    }

    func validate(_ input: ModuleInput) async throws -> (hours: Double, materials: [UUID]) {
        var errors: [(String, String)] = []
        if input.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { errors.append(("title", "training.error.title")) }
        if input.title.count > 300 { errors.append(("title", "respond.error.too_long")) }
        if !UILocale.allCases.map(\.rawValue).contains(input.language) { errors.append(("language", "training.error.module-language")) }
        if input.areas.isEmpty { errors.append(("areas", "training.error.areas")) }
        let hours = Double(input.hours.replacingOccurrences(of: ",", with: ".").trimmingCharacters(in: .whitespaces))
        if hours == nil || !(0.5...500).contains(hours!) { errors.append(("hours", "training.error.hours")) }
        for (name, text) in input.sections where text.count > 50_000 { errors.append((name, "respond.error.too_long")) }
        var materials: [UUID] = []
        for line in input.materials.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) }) where !line.isEmpty {
            let candidate = line.split(separator: "/").map(String.init).first { UUID(uuidString: $0) != nil }
            guard let id = candidate.flatMap(UUID.init(uuidString:)), try await RepositoryRecord.find(id, on: db) != nil else {
                errors.append(("materials", "training.error.materials")); break
            }
            materials.append(id)
        }
        if !errors.isEmpty { throw FieldErrors(errors) }
        return (hours!, materials)
    }

    func create(_ input: ModuleInput, by actor: Actor) async throws -> TrainingModule {
        guard canWrite(actor) else { throw Forbidden() }
        let (hours, materials) = try await validate(input)
        var slug = Self.slug(input.title)
        if slug.isEmpty { slug = "module" }
        var candidate = slug
        var counter = 2
        while try await TrainingModule.query(on: db).filter(\.$slug == candidate).count() > 0 { candidate = "\(slug)-\(counter)"; counter += 1 }
        let module = TrainingModule()
        module.slug = candidate
        module.kind = TrainingModule.Kind(rawValue: input.kind) ?? .module
        module.state = .proposed
        module.version = 1
        module.title = [:]; module.summary = [:]; module.outcomes = [:]; module.sections = [:]
        module.materials = materials
        module.$institution.id = actor.home?.institutionID
        module.createdByID = actor.userID
        apply(input, hours: hours, to: module)
        try await module.create(on: db)
        return module
    }

    func update(_ module: TrainingModule, _ input: ModuleInput, by actor: Actor) async throws {
        guard try await canEdit(module, actor) else { throw Forbidden() }
        let (hours, materials) = try await validate(input)
        try await db.transaction { tx in
            if [.approved, .published].contains(module.state) {
                let snapshot = TrainingModuleVersion()
                snapshot.$module.id = try module.requireID()
                snapshot.version = module.version
                snapshot.snapshot = try Self.snapshot(module)
                try await snapshot.create(on: tx)
                module.version += 1
            }
            module.materials = materials
            self.apply(input, hours: hours, to: module)
            try await module.save(on: tx)
        }
    }

    func move(_ module: TrainingModule, to state: TrainingModule.State, by actor: Actor) async throws {
        guard try await canEdit(module, actor) || actor.isCoordinator else { throw Forbidden() }
        guard ModuleWorkflow.canMove(from: module.state, to: state) else { throw FieldErrors([("state", "training.error.module-state")]) }
        if ModuleWorkflow.needsCoordinator(state) {
            guard actor.isCoordinator, try await canEdit(module, actor) || module.$institution.id == nil && (actor.isAdmin || actor.isRegionalCoordinator)
            else { throw Forbidden() }
        }
        module.state = state
        try await module.save(on: db)
    }

    private func apply(_ input: ModuleInput, hours: Double, to module: TrainingModule) {
        let language = input.language
        module.title[language] = input.title.trimmingCharacters(in: .whitespacesAndNewlines)
        module.summary[language] = input.summary
        module.outcomes[language] = input.outcomes
        for name in TrainingModule.sections { module.sections[name, default: [:]][language] = input.sections[name] ?? "" }
        module.areas = input.areas
        module.hours = hours
        module.format = ["workshop", "webinar", "blended"].contains(input.format) ? input.format : "workshop"
        module.kind = TrainingModule.Kind(rawValue: input.kind) ?? module.kind
    }

    struct Snapshot: Codable {
        var title: [String: String]
        var summary: [String: String]
        var outcomes: [String: String]
        var sections: [String: [String: String]]
        var areas: [String]
        var hours: Double
        var format: String
        var savedAt: Date
    }

    static func snapshot(_ module: TrainingModule) throws -> String {
        let value = Snapshot(title: module.title, summary: module.summary, outcomes: module.outcomes, sections: module.sections,
                             areas: module.areas, hours: module.hours, format: module.format, savedAt: module.updatedAt ?? Date())
        return String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }
}
