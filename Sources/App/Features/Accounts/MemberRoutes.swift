import Fluent
import Vapor

/// Coordinators: approve sign-ups, invite people, grant and revoke roles in their scope.
struct MemberRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let signedIn = routes.grouped(User.redirectMiddleware(path: "/signin"))
        signedIn.get("approvals", use: approvals)
        signedIn.post("approvals", ":userID", use: decide)
        signedIn.get("members", use: members)
        signedIn.post("members", "invite", use: invite)
        signedIn.post("members", ":userID", "roles", use: grant)
        signedIn.post("members", "roles", ":assignmentID", "revoke", use: revoke)
    }

    // MARK: approvals

    struct ApprovalsView: Encodable {
        struct Row: Encodable {
            var id: String
            var name: String
            var email: String
            var institution: String
            var requested: String
        }
        var rows: [Row]
    }

    func approvals(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard actor.isCoordinator else { throw Forbidden() }
        let pending = try await req.accounts.pendingSignUps(for: actor)
        let rows = pending.map { user, institution in
            ApprovalsView.Row(id: user.id!.uuidString, name: user.name, email: user.email,
                              institution: localized(institution.names, req.locale), requested: req.formatDate(user.createdAt, time: true))
        }
        return try await req.page("accounts/approvals", titleKey: "approvals.title", ApprovalsView(rows: rows))
    }

    func decide(req: Request) async throws -> Response {
        struct Input: Content { var decision: String }
        let actor = try await req.requireActor()
        guard let userID = req.parameters.get("userID", as: UUID.self) else { throw Abort(.notFound) }
        let input = try req.content.decode(Input.self)
        guard ["approve", "reject"].contains(input.decision) else { throw Abort(.badRequest) }
        let user = try await req.accounts.decide(on: userID, approve: input.decision == "approve", by: actor)
        req.flash("success", input.decision == "approve" ? "approvals.approved" : "approvals.rejected", user.name)
        return req.seeOther("/approvals")
    }

    // MARK: members and roles

    struct MembersView: Encodable {
        struct Assignment: Encodable {
            var id: String
            var label: String
            var revocable: Bool
        }
        struct Member: Encodable {
            var id: String
            var name: String
            var email: String
            var status: String
            var roles: [Assignment]
            var grantable: [Choice]
        }
        var institutions: [Choice]
        var institutionID: String
        var institutionName: String
        var members: [Member]
        var invitableRoles: [Choice]
        var inviteForm: FormState
    }

    /// Institutions whose members the actor manages.
    func manageable(_ req: Request, _ actor: Actor) async throws -> [Institution] {
        try await Institution.query(on: req.db).all()
            .filter { $0.place.map(actor.canManage) ?? false }
            .sorted { localized($0.names, req.locale).localizedCompare(localized($1.names, req.locale)) == .orderedAscending }
    }

    func membersView(_ req: Request, actor: Actor, institutionID: String?, inviteForm: FormState = FormState()) async throws -> MembersView {
        let institutions = try await manageable(req, actor)
        guard !institutions.isEmpty else { throw Forbidden() }
        let current = institutions.first { $0.id?.uuidString == institutionID }
            ?? institutions.first { $0.id == actor.home?.institutionID } ?? institutions[0]
        guard let place = current.place else { throw Abort(.internalServerError) }
        let users = try await User.query(on: req.db).filter(\.$institution.$id == place.institutionID)
            .with(\.$roles).sort(\.$name).all()
        let grantableRoles = Role.allCases.filter { role in
            let scope = Self.scope(for: role, place: place)
            return actor.canGrant(RoleGrant(role: role, scopeID: scope), place: place)
        }
        var members: [MembersView.Member] = []
        for user in users {
            var assignments: [MembersView.Assignment] = []
            for assignment in user.roles {
                guard let grant = assignment.grant else { continue }
                let label = try await req.roleLabels([grant]).first ?? grant.role.rawValue
                let assignmentPlace: InstitutionPlace? = grant.role.scopeKind == .institution ? place : nil
                assignments.append(.init(id: assignment.id!.uuidString, label: label,
                                         revocable: actor.canGrant(grant, place: assignmentPlace) && assignment.$user.id != actor.userID))
            }
            let held = Set(user.roles.compactMap { $0.grant?.role })
            members.append(.init(
                id: user.id!.uuidString, name: user.name, email: user.email, status: req.t("status.\(user.status.rawValue)"),
                roles: assignments,
                grantable: grantableRoles.filter { !held.contains($0) }.map { .init(value: $0.rawValue, label: req.t($0.catalogKey), selected: false) }))
        }
        let chosenRole = inviteForm.values["role"] ?? Role.staff.rawValue
        return MembersView(
            institutions: institutions.map { .init(value: $0.id!.uuidString, label: localized($0.names, req.locale), selected: $0.id == current.id) },
            institutionID: place.institutionID.uuidString,
            institutionName: localized(current.names, req.locale),
            members: members,
            invitableRoles: grantableRoles.filter { $0.scopeKind == .institution }
                .map { .init(value: $0.rawValue, label: req.t($0.catalogKey), selected: $0.rawValue == chosenRole) },
            inviteForm: inviteForm)
    }

    /// The scope a role gets when granted from an institution's members page.
    static func scope(for role: Role, place: InstitutionPlace) -> String? {
        switch role.scopeKind {
        case .platform: nil
        case .country: place.countryCode
        case .institution: place.institutionID.uuidString
        }
    }

    func members(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let view = try await membersView(req, actor: actor, institutionID: req.query[String.self, at: "institution"])
        return try await req.page("accounts/members", titleKey: "members.title", view)
    }

    func invite(req: Request) async throws -> Response {
        struct Input: Content { var email: String?; var role: String?; var institution_id: String? }
        let actor = try await req.requireActor()
        let input = try req.content.decode(Input.self)
        do {
            _ = try await req.accounts.invite(email: input.email ?? "", role: Role(rawValue: input.role ?? "") ?? .staff,
                                              institutionID: input.institution_id.flatMap { UUID(uuidString: $0) }, by: actor, locale: req.locale)
            req.flash("success", "members.invited", AccountRules.normalizedEmail(input.email ?? ""))
            return req.seeOther("/members?institution=\(input.institution_id ?? "")")
        } catch let errors as FieldErrors {
            var form = FormState(values: ["email": input.email ?? "", "role": input.role ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            let view = try await membersView(req, actor: actor, institutionID: input.institution_id, inviteForm: form)
            return try await req.page("accounts/members", titleKey: "members.title", view, status: .unprocessableEntity)
        }
    }

    func grant(req: Request) async throws -> Response {
        struct Input: Content { var role: String; var institution_id: String }
        let actor = try await req.requireActor()
        guard let userID = req.parameters.get("userID", as: UUID.self) else { throw Abort(.notFound) }
        let input = try req.content.decode(Input.self)
        guard let role = Role(rawValue: input.role), let institutionID = UUID(uuidString: input.institution_id),
              let institution = try await Institution.find(institutionID, on: req.db), let place = institution.place else {
            throw Abort(.badRequest)
        }
        do {
            try await req.accounts.grant(role, scopeID: Self.scope(for: role, place: place), to: userID, by: actor)
            req.flash("success", "members.granted")
        } catch let errors as FieldErrors {
            req.flash("error", errors.fields.first?.1 ?? "error.bad_request")
        }
        return req.seeOther("/members?institution=\(institutionID.uuidString)")
    }

    func revoke(req: Request) async throws -> Response {
        struct Input: Content { var institution_id: String? }
        let actor = try await req.requireActor()
        guard let assignmentID = req.parameters.get("assignmentID", as: UUID.self) else { throw Abort(.notFound) }
        let input = try req.content.decode(Input.self)
        do {
            try await req.accounts.revoke(assignmentID: assignmentID, by: actor)
            req.flash("success", "members.revoked")
        } catch let errors as FieldErrors {
            req.flash("error", errors.fields.first?.1 ?? "error.bad_request")
        }
        return req.seeOther("/members?institution=\(input.institution_id ?? "")")
    }
}
