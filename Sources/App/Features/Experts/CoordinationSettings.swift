import Fluent
import Vapor

/// A platform-wide setting stored as JSON under a key (the coordination weights, SLA days…).
final class PlatformSetting: Model, @unchecked Sendable {
    static let schema = "platform_settings"

    @ID(key: .id) var id: UUID?
    @Field(key: "key") var key: String
    @Field(key: "value") var value: String
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

struct CreatePlatformSettings: AsyncMigration {
    var name: String { "0012_create_platform_settings" }

    func prepare(on db: any Database) async throws {
        try await db.schema(PlatformSetting.schema)
            .id()
            .field("key", .string, .required).unique(on: "key")
            .field("value", .string, .required)
            .field("updated_at", .datetime)
            .create()
    }

    func revert(on db: any Database) async throws {
        try await db.schema(PlatformSetting.schema).delete()
    }
}

/// The admin-configurable rules of the escalation ladder (DESIGN.md 3.3) and the match weights.
struct CoordinationSettings: Codable, Equatable, Sendable {
    var weights = MatchWeights.standard
    /// An offer expires after this many days and passes to the next candidate.
    var offerDays = 5
    /// Level 1 triage must happen within this many working days, else the request escalates.
    var triageWorkingDays = 5
    /// At each level, an offer must be made within this many working days, else the request escalates.
    var matchingWorkingDays = 10

    static let key = "coordination"

    static func load(on db: any Database) async throws -> CoordinationSettings {
        guard let row = try await PlatformSetting.query(on: db).filter(\.$key == key).first(),
              let settings = try? JSONDecoder().decode(CoordinationSettings.self, from: Data(row.value.utf8)) else {
            return CoordinationSettings()
        }
        return settings
    }

    func save(on db: any Database) async throws {
        let value = String(decoding: try JSONEncoder().encode(self), as: UTF8.self)
        if let row = try await PlatformSetting.query(on: db).filter(\.$key == Self.key).first() {
            row.value = value
            try await row.save(on: db)
        } else {
            let row = PlatformSetting()
            row.key = Self.key
            row.value = value
            try await row.create(on: db)
        }
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        weights = try c.decodeIfPresent(MatchWeights.self, forKey: .weights) ?? .standard
        offerDays = try c.decodeIfPresent(Int.self, forKey: .offerDays) ?? 5
        triageWorkingDays = try c.decodeIfPresent(Int.self, forKey: .triageWorkingDays) ?? 5
        matchingWorkingDays = try c.decodeIfPresent(Int.self, forKey: .matchingWorkingDays) ?? 10
    }

    /// `days` working days (Monday–Friday) after `date`.
    static func addingWorkingDays(_ days: Int, to date: Date, calendar: Calendar = Calendar(identifier: .gregorian)) -> Date {
        var result = date
        var left = days
        var calendar = calendar
        calendar.timeZone = TimeZone(identifier: "Europe/Belgrade") ?? .current
        while left > 0 {
            result = calendar.date(byAdding: .day, value: 1, to: result) ?? result.addingTimeInterval(86400)
            let weekday = calendar.component(.weekday, from: result)
            if weekday != 1 && weekday != 7 { left -= 1 }
        }
        return result
    }
}
