import Foundation

/// A questionnaire's content: sections of items, every text in every UI language.
/// Stored as JSON on `Instrument`; a version in use is frozen, editing makes a new version.
struct InstrumentDefinition: Codable, Sendable, Equatable {
    struct Option: Codable, Sendable, Equatable {
        var code: String
        var label: [String: String]
    }

    enum Kind: String, Codable, Sendable, CaseIterable {
        case importancePerformance = "importance_performance"
        case likert
        case singleChoice = "single_choice"
        case multipleChoice = "multiple_choice"
        case ranking
        case number
        case freeText = "free_text"
    }

    struct Item: Codable, Sendable, Equatable {
        var code: String
        var kind: Kind
        var required: Bool
        var text: [String: String]
        var help: [String: String]?
        var options: [Option]?
        /// Stakeholder groups the item is shown to; nil = everyone.
        var groups: [String]?
        var min: Double?
        var max: Double?
        /// "expertise", "consent", "projects" for the knowledge-capital items.
        var knowledgeCapital: String?
        /// "group", "unit", "experience" for the demographic items.
        var demographic: String?
    }

    struct Section: Codable, Sendable, Equatable {
        var code: String
        var area: String?
        var title: [String: String]
        var items: [Item]
    }

    struct Scale: Codable, Sendable, Equatable {
        var importance: [String: String]
        var performance: [String: String]
        var labels: [String: [String: String]]
    }

    struct Group: Codable, Sendable, Equatable {
        var code: String
        var names: [String: String]
    }

    var code: String
    var version: Int
    var title: [String: String]
    var introduction: [String: String]
    var scale: Scale
    var groups: [Group]
    var sections: [Section]

    var items: [Item] { sections.flatMap(\.items) }

    func item(_ code: String) -> Item? { items.first { $0.code == code } }

    func area(of itemCode: String) -> String? {
        sections.first { $0.items.contains { $0.code == itemCode } }?.area
    }

    /// The sections a respondent of `group` sees (items filtered by their group list; empty sections dropped).
    func sections(for group: String?) -> [Section] {
        sections.compactMap { section in
            var copy = section
            copy.items = section.items.filter { item in
                guard let groups = item.groups, let group else { return true }
                return groups.contains(group)
            }
            return copy.items.isEmpty ? nil : copy
        }
    }

    static let stakeholderGroups = ["management", "academic_staff", "administrative_staff", "students", "external"]
}
