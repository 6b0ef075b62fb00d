import Fluent
import Vapor

/// The shipped reference data (Resources/Seed/reference.json).
struct ReferenceSeed: Decodable {
    struct AreaSeed: Decodable {
        var code: String
        var names: [String: String]
        var descriptions: [String: String]
        var activityTypes: [String]
    }
    struct ActivityTypeSeed: Decodable {
        var code: String
        var area: String
        var names: [String: String]
    }
    struct LicenceSeed: Decodable {
        var spdx: String
        var name: String
        var url: String?
    }
    struct LanguageSeed: Decodable {
        var tag: String
        var native: String
        var names: [String: String]
    }
    struct ResourceTypeSeed: Decodable {
        var code: String
        var names: [String: String]
    }

    var areas: [AreaSeed]
    var activityTypes: [ActivityTypeSeed]
    var licences: [LicenceSeed]
    var languages: [LanguageSeed]
    var resourceTypes: [ResourceTypeSeed]

    static func load() throws -> ReferenceSeed {
        try SeedFile.decode(ReferenceSeed.self, named: "reference.json")
    }

    /// Inserts every entry whose code is not there yet; never overwrites what an admin edited.
    func insertMissing(on db: any Database) async throws {
        let existingAreas = Set(try await Area.query(on: db).all().map(\.code))
        for (index, area) in areas.enumerated() where !existingAreas.contains(area.code) {
            try await Area(code: area.code, position: index + 1, names: area.names, descriptions: area.descriptions).create(on: db)
        }
        let existingTypes = Set(try await ActivityType.query(on: db).all().map(\.code))
        for type in activityTypes where !existingTypes.contains(type.code) {
            try await ActivityType(code: type.code, areaCode: type.area, names: type.names).create(on: db)
        }
        let existingLicences = Set(try await Licence.query(on: db).all().map(\.spdx))
        for licence in licences where !existingLicences.contains(licence.spdx) {
            try await Licence(spdx: licence.spdx, name: licence.name, url: licence.url).create(on: db)
        }
        let existingLanguages = Set(try await LanguageEntry.query(on: db).all().map(\.tag))
        for language in languages where !existingLanguages.contains(language.tag) {
            try await LanguageEntry(tag: language.tag, native: language.native, names: language.names).create(on: db)
        }
        let existingResourceTypes = Set(try await ResourceType.query(on: db).all().map(\.code))
        for type in resourceTypes where !existingResourceTypes.contains(type.code) {
            try await ResourceType(code: type.code, names: type.names).create(on: db)
        }
    }
}

/// Reads JSON files shipped under Resources/Seed.
enum SeedFile {
    static func decode<T: Decodable>(_ type: T.Type, named name: String) throws -> T {
        let path = DirectoryConfiguration.detect().resourcesDirectory + "Seed/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("Seed file missing: \(path)")
        }
        return try JSONDecoder().decode(T.self, from: data)
    }
}
