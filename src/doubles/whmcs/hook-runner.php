<?php
/**
 * Runs a WHMCS hook file outside WHMCS, for the fake WHMCS (tests and demo): provides add_hook, logActivity, the
 * WHMCS\Config\Setting class (SystemURL) and a localAPI that calls the fake's api.php, then fires one hook point with
 * the vars read from stdin as JSON {"hook": "...", "vars": {...}}. logActivity lines are printed to stdout as JSON
 * for the fake's activity log.
 */
namespace WHMCS\Config {
    class Setting
    {
        public static function getValue($name)
        {
            return $name === 'SystemURL' ? (string) getenv('FAKE_WHMCS_SYSTEM_URL') : null;
        }
    }
}

namespace {
define('WHMCS', true);
$GLOBALS['voipbill_test_hooks'] = [];

function add_hook($name, $priority, $callback)
{
    $GLOBALS['voipbill_test_hooks'][$name][] = [$priority, $callback];
}

function logActivity($message, $userId = 0)
{
    fwrite(STDOUT, json_encode(['activity' => $message, 'userid' => $userId]) . "\n");
}

function localAPI($command, $data = [], $adminUser = '')
{
    $post = http_build_query(array_merge($data, ['action' => $command, 'responsetype' => 'json']));
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => "Content-Type: application/x-www-form-urlencoded\r\nX-Fake-Whmcs-Internal: " . getenv('FAKE_WHMCS_INTERNAL_TOKEN'),
        'content' => $post,
        'timeout' => 5,
        'ignore_errors' => true,
    ]]);
    $body = @file_get_contents(getenv('FAKE_WHMCS_API_URL'), false, $context);
    $decoded = json_decode((string) $body, true);
    return is_array($decoded) ? $decoded : ['result' => 'error', 'message' => 'localAPI: no JSON answer'];
}

require getenv('VOIPBILL_HOOKS_FILE');

$input = json_decode(stream_get_contents(STDIN), true);
$hooks = isset($GLOBALS['voipbill_test_hooks'][$input['hook']]) ? $GLOBALS['voipbill_test_hooks'][$input['hook']] : [];
usort($hooks, function ($a, $b) {
    return $a[0] <=> $b[0];
});
foreach ($hooks as $hook) {
    call_user_func($hook[1], $input['vars']);
}
}
