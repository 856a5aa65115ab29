/** The part of fengari (a Lua 5.3 VM in JavaScript; it ships no types) the Lua script tests use. */
declare module 'fengari' {
  type LuaState = object;
  export const lua: {
    LUA_OK: number;
    LUA_TNUMBER: number;
    lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
    lua_getglobal(L: LuaState, name: Uint8Array): number;
    lua_isnil(L: LuaState, index: number): boolean;
    lua_type(L: LuaState, index: number): number;
    lua_tonumber(L: LuaState, index: number): number;
    lua_tostring(L: LuaState, index: number): Uint8Array;
    lua_pop(L: LuaState, n: number): void;
  };
  export const lauxlib: {
    luaL_newstate(): LuaState;
    luaL_loadstring(L: LuaState, code: Uint8Array): number;
  };
  export const lualib: { luaL_openlibs(L: LuaState): void };
  export function to_luastring(s: string): Uint8Array;
  export function to_jsstring(s: Uint8Array): string;
}
