/**
 * @since 0.1.0
 */
export * as Argon2 from "./Argon2.ts"
export * as Jwt from "./Jwt.ts"
export * as JwtKeys from "./JwtKeys.ts"
export * as PasswordPolicy from "./PasswordPolicy.ts"
export * as RecoveryCodes from "./RecoveryCodes.ts"
export * as RefreshTokens from "./RefreshTokens.ts"
export * as SecretBox from "./SecretBox.ts"
export * as Totp from "./Totp.ts"
