import Fluent
import FluentSQL
import Vapor

/// At the open listing (the last step of the ladder) any signed-in member may answer a request; the request stays
/// anonymous to them until its owner replies (DESIGN.md 3.3). Contact details still wait for an accepted offer.
final class ListingResponse: Model, @unchecked Sendable {
    static let schema = "listing_responses"

    @ID(key: .id) var id: UUID?
    @Parent(key: "request_id") var request: KnowledgeRequest
    @Field(key: "responder_id") var responderID: UUID
    @Field(key: "message") var message: String
    @OptionalField(key: "reply") var reply: String?
    @OptionalField(key: "replied_at") var repliedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}

struct CreateListingResponses: AsyncMigration {
    var name: String { "0014_create_listing_responses" }

    func prepare(on db: any Database) async throws {
        try await db.schema(ListingResponse.schema)
            .id()
            .field("request_id", .uuid, .required, .references(KnowledgeRequest.schema, "id"))
            .field("responder_id", .uuid, .required, .references("users", "id"))
            .field("message", .string, .required)
            .field("reply", .string)
            .field("replied_at", .datetime)
            .field("created_at", .datetime)
            .unique(on: "request_id", "responder_id")
            .create()
    }

    func revert(on db: any Database) async throws {
        try await db.schema(ListingResponse.schema).delete()
    }
}

extension RequestService {
    /// The request is at the open listing and still looking for someone.
    func isListed(_ request: KnowledgeRequest) -> Bool {
        request.level >= Self.maxLevel && [.matching, .offered].contains(request.workflowState)
    }

    /// A member answers the open listing ("I can help"), once per request.
    func respondToListing(_ request: KnowledgeRequest, message: String, by actor: Actor) async throws {
        guard isListed(request) else { throw CoordinationError.notListed }
        guard request.$requester.id != actor.userID else { throw Forbidden() }
        let text = message.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { throw FieldErrors([("listing_message", "rfk.error.listing-message")]) }
        if text.count > 2000 { throw FieldErrors([("listing_message", "respond.error.too_long")]) }
        let requestID = try request.requireID()
        guard try await ListingResponse.query(on: db).filter(\.$request.$id == requestID).filter(\.$responderID == actor.userID).count() == 0 else {
            throw CoordinationError.alreadyResponded
        }
        try await db.transaction { tx in
            let response = ListingResponse()
            response.$request.id = requestID
            response.responderID = actor.userID
            response.message = text
            try await response.create(on: tx)
            try await self.trail(request, event: "listing_response", actorKind: "member", actorID: actor.userID,
                                 note: "rfk.history.listing-response", on: tx)
            if let owner = try await User.find(request.$requester.id, on: tx) {
                try await self.on(tx).mail(to: owner, subjectKey: "rfk.mail.listing-response", request: request, on: tx)
            }
        }
    }

    /// The owner replies to one answer: from now on that member sees who asked, and hears of the reply.
    func replyToListing(_ request: KnowledgeRequest, responseID: UUID, message: String, by actor: Actor) async throws {
        guard request.$requester.id == actor.userID else { throw Forbidden() }
        guard let response = try await ListingResponse.find(responseID, on: db), response.$request.id == request.id else { throw Abort(.notFound) }
        let text = message.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { throw FieldErrors([("reply", "rfk.error.listing-reply")]) }
        if text.count > 2000 { throw FieldErrors([("reply", "respond.error.too_long")]) }
        try await db.transaction { tx in
            response.reply = text
            response.repliedAt = now()
            try await response.save(on: tx)
            if let responder = try await User.find(response.responderID, on: tx) {
                try await self.on(tx).mail(to: responder, subjectKey: "rfk.mail.listing-reply", request: request, on: tx)
            }
        }
    }

    /// Whether the owner has replied to this member's answer (then the request is no longer anonymous to them).
    func ownerReplied(_ request: KnowledgeRequest, to userID: UUID) async throws -> Bool {
        try await ListingResponse.query(on: db).filter(\.$request.$id == request.requireID()).filter(\.$responderID == userID)
            .filter(\.$repliedAt != nil).count() > 0
    }
}
