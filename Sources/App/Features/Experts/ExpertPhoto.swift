import Fluent
import Vapor

/// The optional photo of an expert profile: a PNG, JPEG or WebP image up to 2 MB, its type read from the bytes, kept in
/// the file store by its SHA-256 and shown in the directory (for public profiles) and to signed-in members.
struct AddExpertPhoto: AsyncMigration {
    var name: String { "0015_add_expert_photo" }

    func prepare(on db: any Database) async throws {
        try await db.schema(ExpertProfile.schema).field("photo_sha256", .string).update()
        try await db.schema(ExpertProfile.schema).field("photo_type", .string).update()
    }

    func revert(on db: any Database) async throws {
        try await db.schema(ExpertProfile.schema).deleteField("photo_type").update()
        try await db.schema(ExpertProfile.schema).deleteField("photo_sha256").update()
    }
}

enum ExpertPhoto {
    static let maxBytes = 2 * 1024 * 1024
    static let types: [SniffedType] = [.png, .jpeg, .webp]

    /// Checks the bytes: the catalog key of the problem, or the media type to store.
    static func check(_ data: Data) -> Result<String, FieldErrors> {
        if data.isEmpty { return .failure(FieldErrors([("photo", "experts.error.photo-empty")])) }
        if data.count > maxBytes { return .failure(FieldErrors([("photo", "experts.error.photo-size")])) }
        guard let sniffed = ContentSniffer.sniff(data), types.contains(where: { $0.mediaType == sniffed.mediaType }) else {
            return .failure(FieldErrors([("photo", "experts.error.photo-type")]))
        }
        return .success(sniffed.mediaType)
    }
}

extension ExpertRoutes {
    func uploadPhoto(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let profile = try await ExpertProfile.query(on: req.db).filter(\.$user.$id == actor.userID).first() else {
            req.flash("error", "experts.error.photo-profile")
            return req.seeOther("/experts/me")
        }
        struct Upload: Content { var photo: File? }
        let data = ((try? req.content.decode(Upload.self))?.photo).map { Data(buffer: $0.data) } ?? Data()
        switch ExpertPhoto.check(data) {
        case .failure(let errors):
            req.flash("error", errors.fields.first?.1 ?? "experts.error.photo-type")
        case .success(let type):
            profile.photoSHA256 = try req.application.fileStorage.put(data)
            profile.photoType = type
            try await profile.save(on: req.db)
            req.flash("success", "experts.photo-saved")
        }
        return req.seeOther("/experts/me")
    }

    func removePhoto(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        if let profile = try await ExpertProfile.query(on: req.db).filter(\.$user.$id == actor.userID).first() {
            profile.photoSHA256 = nil
            profile.photoType = nil
            try await profile.save(on: req.db)
        }
        req.flash("success", "experts.photo-removed")
        return req.seeOther("/experts/me")
    }

    /// The photo of a public, active profile for everyone; of any profile for signed-in members.
    func photo(req: Request) async throws -> Response {
        guard let id = req.parameters.get("id", as: UUID.self), let profile = try await ExpertProfile.find(id, on: req.db),
              let hash = profile.photoSHA256, let type = profile.photoType else { throw Abort(.notFound) }
        let signedIn = try await req.actor() != nil
        guard signedIn || (profile.isPublic && profile.status == .active) else { throw Abort(.notFound) }
        let data = try req.application.fileStorage.read(hash, offset: 0, length: nil)
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: type)
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        headers.replaceOrAdd(name: .cacheControl, value: signedIn ? "private, max-age=3600" : "public, max-age=3600")
        headers.replaceOrAdd(name: .eTag, value: "\"\(hash)\"")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }
}
