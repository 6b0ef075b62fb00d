import Fluent
import Vapor

/// The roles of DESIGN.md section 1.
public enum Role: String, CaseIterable, Codable, Sendable {
    case admin
    case regionalCoordinator = "regional_coordinator"
    case nationalCoordinator = "national_coordinator"
    case institutionalCoordinator = "institutional_coordinator"
    case curator
    case expert
    case trainer
    case staff

    public enum ScopeKind: String, Sendable { case platform, country, institution }

    public var scopeKind: ScopeKind {
        switch self {
        case .admin, .regionalCoordinator: .platform
        case .nationalCoordinator: .country
        case .institutionalCoordinator, .curator, .expert, .trainer, .staff: .institution
        }
    }

    /// 0 is the top. A role can be granted only by a role of a smaller rank whose scope contains it.
    var rank: Int {
        switch self {
        case .admin: 0
        case .regionalCoordinator: 1
        case .nationalCoordinator: 2
        case .institutionalCoordinator: 3
        case .curator, .expert, .trainer, .staff: 4
        }
    }

    var catalogKey: String { "role.\(rawValue)" }
}

/// A role in a scope: `scopeID` is a country code, an institution id, or nil for the platform.
public struct RoleGrant: Hashable, Sendable {
    public var role: Role
    public var scopeID: String?

    public init(role: Role, scopeID: String?) {
        self.role = role
        self.scopeID = scopeID
    }
}

/// Where an institution sits, so scope checks need no database.
public struct InstitutionPlace: Hashable, Sendable {
    public var institutionID: UUID
    public var countryCode: String

    public init(institutionID: UUID, countryCode: String) {
        self.institutionID = institutionID
        self.countryCode = countryCode
    }
}

/// Who is acting: the person and every role they hold. All authorization questions are answered here,
/// as pure functions over these values.
public struct Actor: Sendable {
    public var userID: UUID
    public var grants: [RoleGrant]
    /// The person's own institution, if any.
    public var home: InstitutionPlace?

    public init(userID: UUID, grants: [RoleGrant], home: InstitutionPlace?) {
        self.userID = userID
        self.grants = grants
        self.home = home
    }

    public var isAdmin: Bool { grants.contains { $0.role == .admin } }
    public var isRegionalCoordinator: Bool { grants.contains { $0.role == .regionalCoordinator } }

    public func holds(_ role: Role) -> Bool { grants.contains { $0.role == role } }

    /// Countries in which this person acts as national coordinator.
    public var coordinatedCountries: [String] {
        grants.filter { $0.role == .nationalCoordinator }.compactMap(\.scopeID)
    }

    /// Institutions in which this person acts as institutional coordinator.
    public var coordinatedInstitutions: [UUID] {
        grants.filter { $0.role == .institutionalCoordinator }.compactMap { $0.scopeID.flatMap { UUID(uuidString: $0) } }
    }

    /// Whether a grant of this person covers a place with at least the given authority (a rank no larger).
    func covers(_ place: InstitutionPlace?, country: String?, withRankAtMost maxRank: Int) -> Bool {
        grants.contains { grant in
            guard grant.role.rank <= maxRank else { return false }
            switch grant.role.scopeKind {
            case .platform: return true
            case .country: return grant.scopeID == (place?.countryCode ?? country)
            case .institution: return place != nil && grant.scopeID == place?.institutionID.uuidString
            }
        }
    }

    /// Manage an institution's record, org units, IaH structure, members and approvals.
    public func canManage(_ place: InstitutionPlace) -> Bool {
        covers(place, country: nil, withRankAtMost: Role.institutionalCoordinator.rank)
    }

    /// Create institutions in a country, manage the country's network.
    public func canManageCountry(_ countryCode: String) -> Bool {
        covers(nil, country: countryCode, withRankAtMost: Role.nationalCoordinator.rank)
    }

    /// Grant or revoke `grant` for someone at `place` (the person's institution; needed for institution roles).
    /// Rule: a role is granted by a role above it whose scope contains the grant's scope.
    public func canGrant(_ grant: RoleGrant, place: InstitutionPlace?) -> Bool {
        if isAdmin { return true }
        switch grant.role.scopeKind {
        case .platform:
            return false  // admin and regional coordinator: admins only
        case .country:
            // National coordinators are appointed from the platform level (regional coordinator).
            guard grant.scopeID != nil else { return false }
            return grants.contains { $0.role.rank < grant.role.rank && $0.role.scopeKind == .platform }
        case .institution:
            guard let place, grant.scopeID == place.institutionID.uuidString else { return false }
            return grants.contains { held in
                guard held.role.rank < grant.role.rank else { return false }
                switch held.role.scopeKind {
                case .platform: return true
                case .country: return held.scopeID == place.countryCode
                case .institution: return held.scopeID == place.institutionID.uuidString
                }
            }
        }
    }

    /// Administer platform-wide data: reference data, all users, outbox, audit log.
    public var canAdministerPlatform: Bool { isAdmin }

    /// Anyone who coordinates something sees the coordination menu.
    public var isCoordinator: Bool {
        grants.contains { [.admin, .regionalCoordinator, .nationalCoordinator, .institutionalCoordinator].contains($0.role) }
    }
}

struct ActorKey: StorageKey { typealias Value = Actor }

extension Request {
    /// The signed-in person's actor, loaded once per request.
    func actor() async throws -> Actor? {
        if let cached = storage[ActorKey.self] { return cached }
        guard let user = auth.get(User.self) else { return nil }
        let actor = try await Actor.load(for: user, on: db)
        storage[ActorKey.self] = actor
        return actor
    }

    /// The actor, or a redirect to sign-in (HTML) / 401 (API).
    func requireActor() async throws -> Actor {
        guard let actor = try await actor() else { throw Abort(.unauthorized) }
        return actor
    }
}

extension Actor {
    static func load(for user: User, on db: any Database) async throws -> Actor {
        let assignments = try await RoleAssignment.query(on: db).filter(\.$user.$id == user.requireID()).all()
        var home: InstitutionPlace?
        if let institutionID = user.$institution.id, let institution = try await Institution.find(institutionID, on: db) {
            home = InstitutionPlace(institutionID: institutionID, countryCode: institution.countryCode)
        }
        return Actor(userID: try user.requireID(), grants: assignments.compactMap(\.grant), home: home)
    }
}

/// Thrown by services when the actor may not do something; rendered as 403.
struct Forbidden: AbortError {
    var status: HTTPResponseStatus { .forbidden }
    var reason: String
    init(_ reason: String = "You do not have permission to do this.") { self.reason = reason }
}
