import Fluent
import Vapor

/// An IaH area A1–A13 (DESIGN.md section 2).
final class Area: Model, @unchecked Sendable {
    static let schema = "areas"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "position") var position: Int
    @Field(key: "names") var names: [String: String]
    @Field(key: "descriptions") var descriptions: [String: String]
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?
    init() {}
    init(code: String, position: Int, names: [String: String], descriptions: [String: String]) {
        self.code = code
        self.position = position
        self.names = names
        self.descriptions = descriptions
    }
}

final class ActivityType: Model, @unchecked Sendable {
    static let schema = "activity_types"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "area_code") var areaCode: String
    @Field(key: "names") var names: [String: String]
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?
    init() {}
    init(code: String, areaCode: String, names: [String: String]) {
        self.code = code
        self.areaCode = areaCode
        self.names = names
    }
}

/// A licence by SPDX identifier.
final class Licence: Model, @unchecked Sendable {
    static let schema = "licences"
    @ID(key: .id) var id: UUID?
    @Field(key: "spdx") var spdx: String
    @Field(key: "name") var name: String
    @OptionalField(key: "url") var url: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?
    init() {}
    init(spdx: String, name: String, url: String?) {
        self.spdx = spdx
        self.name = name
        self.url = url
    }
}

/// A language by BCP 47 tag.
final class LanguageEntry: Model, @unchecked Sendable {
    static let schema = "languages"
    @ID(key: .id) var id: UUID?
    @Field(key: "tag") var tag: String
    @Field(key: "native") var native: String
    @Field(key: "names") var names: [String: String]
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?
    init() {}
    init(tag: String, native: String, names: [String: String]) {
        self.tag = tag
        self.native = native
        self.names = names
    }
}

final class ResourceType: Model, @unchecked Sendable {
    static let schema = "resource_types"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "names") var names: [String: String]
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?
    init() {}
    init(code: String, names: [String: String]) {
        self.code = code
        self.names = names
    }
}
