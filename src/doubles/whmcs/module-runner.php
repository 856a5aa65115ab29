<?php
/**
 * Runs a WHMCS server module function outside WHMCS, for the fake WHMCS (tests and demo): defines WHMCS, a
 * logModuleCall that records to stdout, includes the module, and calls `<module>_<function>($params)` with
 * {"module": "...", "function": "...", "params": {...}} read from stdin. Prints {"result": <what it returned>}.
 */
define('WHMCS', true);
$GLOBALS['voipbill_module_calls'] = [];

function logModuleCall($module, $action, $request, $response, $processed = '', $replace = [])
{
    $GLOBALS['voipbill_module_calls'][] = ['module' => $module, 'action' => $action];
}

function logActivity($message, $userId = 0)
{
}

require getenv('VOIPBILL_MODULE_FILE');

$input = json_decode(stream_get_contents(STDIN), true);
$fn = $input['module'] . '_' . $input['function'];
$result = function_exists($fn) ? call_user_func($fn, $input['params']) : 'function ' . $fn . ' is not defined';
fwrite(STDOUT, json_encode(['result' => $result, 'calls' => $GLOBALS['voipbill_module_calls']]) . "\n");
