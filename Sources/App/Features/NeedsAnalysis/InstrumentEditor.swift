import Fluent
import Vapor

/// Editing questionnaires: a version in use is frozen; editing means making a new version first.
struct InstrumentService {
    let db: any Database
    let audit: AuditContext

    /// Admins edit the shipped instruments; coordinators edit their institution's own.
    static func canEdit(_ instrument: Instrument, _ actor: Actor) -> Bool {
        if actor.isAdmin { return true }
        guard let owner = instrument.institutionID else { return false }
        return actor.coordinatedInstitutions.contains(owner)
    }

    /// Every coordinator sees the shipped instruments and their own institutions'.
    static func canSee(_ instrument: Instrument, _ actor: Actor) -> Bool {
        guard actor.isCoordinator else { return false }
        return instrument.institutionID == nil || canEdit(instrument, actor)
    }

    func requireEditable(_ instrument: Instrument, _ actor: Actor) throws {
        guard Self.canEdit(instrument, actor) else { throw Forbidden() }
        guard !instrument.frozen else { throw FieldErrors([("instrument", "instrument.error.frozen")]) }
    }

    /// A new, editable version: a copy owned by the actor's institution (or shipped, for an admin without one).
    func newVersion(of instrument: Instrument, by actor: Actor) async throws -> Instrument {
        guard Self.canSee(instrument, actor) else { throw Forbidden() }
        let owner = actor.isAdmin && actor.home == nil ? nil : actor.home?.institutionID ?? actor.coordinatedInstitutions.first
        if !actor.isAdmin, owner == nil { throw Forbidden() }
        let latest = try await Instrument.query(on: db).filter(\.$code == instrument.code).sort(\.$version, .descending).first()
        var definition = instrument.definition
        definition.version = (latest?.version ?? instrument.version) + 1
        let copy = Instrument(definition: definition, institutionID: owner, previousVersionID: instrument.id)
        try await copy.create(on: db)
        return copy
    }

    struct ItemInput {
        var sectionCode: String
        var code: String
        var kind: String
        var required: Bool
        var texts: [String: String]
        var options: String
        var groups: [String]
    }

    /// Validates an item; returns it or the field errors (catalog keys).
    static func item(from input: ItemInput, in definition: InstrumentDefinition, replacing existing: String?) -> Result<InstrumentDefinition.Item, FieldErrors> {
        var errors: [(String, String)] = []
        let code = input.code.trimmingCharacters(in: .whitespaces)
        if code.isEmpty || code.count > 20 || code.contains(where: { $0.isWhitespace || $0 == ":" || $0 == "|" }) {
            errors.append(("code", "instrument.error.code"))
        } else if code != existing, definition.item(code) != nil {
            errors.append(("code", "validation.code_taken"))
        }
        let kind = InstrumentDefinition.Kind(rawValue: input.kind)
        if kind == nil { errors.append(("kind", "validation.kind_required")) }
        let texts = input.texts.mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.value.isEmpty && UILocale(rawValue: $0.key) != nil }
        if texts["en"] == nil { errors.append(("text_en", "instrument.error.text")) }
        var options: [InstrumentDefinition.Option] = []
        for line in input.options.split(whereSeparator: \.isNewline) where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = line.split(separator: "|", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { errors.append(("options", "instrument.error.options")); break }
            options.append(.init(code: parts[0], label: ["en": parts[1]]))
        }
        if let kind, [.singleChoice, .multipleChoice, .ranking].contains(kind), options.count < 2 { errors.append(("options", "instrument.error.options")) }
        if Set(options.map(\.code)).count != options.count { errors.append(("options", "instrument.error.options")) }
        if !definition.sections.contains(where: { $0.code == input.sectionCode }) { errors.append(("section", "validation.kind_required")) }
        let groups = input.groups.filter { InstrumentDefinition.stakeholderGroups.contains($0) }
        guard errors.isEmpty, let kind else { return .failure(FieldErrors(errors)) }
        return .success(.init(code: code, kind: kind, required: input.required, text: texts, help: nil,
                              options: options.isEmpty ? nil : options, groups: groups.isEmpty ? nil : groups,
                              min: kind == .number ? 0 : nil, max: nil, knowledgeCapital: nil, demographic: nil))
    }

    func addItem(_ input: ItemInput, to instrument: Instrument, by actor: Actor) async throws {
        try requireEditable(instrument, actor)
        var definition = instrument.definition
        switch Self.item(from: input, in: definition, replacing: nil) {
        case .failure(let errors): throw errors
        case .success(let item):
            let index = definition.sections.firstIndex { $0.code == input.sectionCode }!
            definition.sections[index].items.append(item)
        }
        instrument.definition = definition
        try await instrument.save(on: db)
    }

    /// Updates the texts (every language), requirement and groups of an item; options keep their codes, labels may be translated.
    func updateItem(_ code: String, texts: [String: String], help: [String: String], required: Bool, groups: [String],
                    optionLabels: [String: [String: String]], in instrument: Instrument, by actor: Actor) async throws {
        try requireEditable(instrument, actor)
        var definition = instrument.definition
        guard let (s, i) = Self.position(of: code, in: definition) else { throw Abort(.notFound) }
        let cleaned = texts.mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.value.isEmpty && UILocale(rawValue: $0.key) != nil }
        guard cleaned["en"] != nil else { throw FieldErrors([("text_en", "instrument.error.text")]) }
        var item = definition.sections[s].items[i]
        item.text = cleaned
        let helpText = help.mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.value.isEmpty && UILocale(rawValue: $0.key) != nil }
        item.help = helpText.isEmpty ? nil : helpText
        item.required = required
        let chosen = groups.filter { InstrumentDefinition.stakeholderGroups.contains($0) }
        item.groups = chosen.isEmpty ? nil : chosen
        if var options = item.options {
            for index in options.indices {
                let labels = (optionLabels[options[index].code] ?? [:]).mapValues { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.value.isEmpty }
                if labels["en"] != nil { options[index].label = labels }
            }
            item.options = options
        }
        definition.sections[s].items[i] = item
        instrument.definition = definition
        try await instrument.save(on: db)
    }

    func move(_ code: String, up: Bool, in instrument: Instrument, by actor: Actor) async throws {
        try requireEditable(instrument, actor)
        var definition = instrument.definition
        guard let (s, i) = Self.position(of: code, in: definition) else { throw Abort(.notFound) }
        let target = up ? i - 1 : i + 1
        guard definition.sections[s].items.indices.contains(target) else { return }
        definition.sections[s].items.swapAt(i, target)
        instrument.definition = definition
        try await instrument.save(on: db)
    }

    func remove(_ code: String, from instrument: Instrument, by actor: Actor) async throws {
        try requireEditable(instrument, actor)
        var definition = instrument.definition
        guard let (s, i) = Self.position(of: code, in: definition) else { throw Abort(.notFound) }
        definition.sections[s].items.remove(at: i)
        instrument.definition = definition
        try await instrument.save(on: db)
    }

    static func position(of code: String, in definition: InstrumentDefinition) -> (Int, Int)? {
        for (s, section) in definition.sections.enumerated() {
            if let i = section.items.firstIndex(where: { $0.code == code }) { return (s, i) }
        }
        return nil
    }
}

extension Request {
    var instruments: InstrumentService { InstrumentService(db: db, audit: auditContext) }
}
