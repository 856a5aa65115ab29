<?php
/**
 * voipbill's view of WHMCS's client custom fields. WHMCS's API returns a client's custom fields as {id, value} only
 * and has no action that lists their names, so voipbill finds the ictVoIP fields (Low Balance Threshold, Has VoIP
 * Service, Manual VoIP Suspend, VoIP Suspended, CC Auth on File, Date CC Auth Entered, Auto VoIP Top Amount) by name
 * through this page, as the product it replaces reads them inside WHMCS. Install it in WHMCS's root folder, next to
 * init.php (see README.md); it answers voipbill's signed GET with the client custom fields' ids, names and whether
 * each is Admin Only / shown on the order form, and nothing else, to no one else.
 *
 * Request: GET /voipbill_fields.php with
 *   X-Voipbill-Timestamp: <unix seconds>   (within 5 minutes of this server's clock)
 *   X-Voipbill-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.voipbill_fields.php" with VOIPBILL_WEBHOOK_SECRET>
 * Answer: 200 {"fields":[{"id":12,"name":"Low Balance Threshold","adminOnly":true,"showOnOrder":false}, …]},
 *         401 for a missing, stale or wrong signature, 503 when VOIPBILL_WEBHOOK_SECRET is not set.
 */

if (!function_exists('voipbill_fields_answer')) {
    /** The shared secret: a constant in configuration.php, else the environment (as voipbill_hooks.php reads it). */
    function voipbill_fields_secret()
    {
        if (defined('VOIPBILL_WEBHOOK_SECRET')) {
            return (string) constant('VOIPBILL_WEBHOOK_SECRET');
        }
        $env = getenv('VOIPBILL_WEBHOOK_SECRET');
        return $env === false ? '' : $env;
    }

    /**
     * [status, body] for a request, given the client rows of tblcustomfields (id, fieldname, adminonly, showorder;
     * WHMCS stores the tick boxes as "on" or "").
     */
    function voipbill_fields_answer($secret, $timestamp, $signature, $now, array $rows)
    {
        if ($secret === '') {
            return array(503, array('error' => 'VOIPBILL_WEBHOOK_SECRET is not set'));
        }
        if (!is_string($timestamp) || !preg_match('/^\d{1,12}$/', $timestamp) || abs($now - (int) $timestamp) > 300) {
            return array(401, array('error' => 'missing or stale X-Voipbill-Timestamp'));
        }
        $expected = 'sha256=' . hash_hmac('sha256', $timestamp . '.voipbill_fields.php', $secret);
        if (!is_string($signature) || !hash_equals($expected, $signature)) {
            return array(401, array('error' => 'bad X-Voipbill-Signature'));
        }
        $fields = array();
        foreach ($rows as $row) {
            $row = (array) $row;
            $fields[] = array(
                'id' => (int) $row['id'],
                'name' => (string) $row['fieldname'],
                'adminOnly' => isset($row['adminonly']) && $row['adminonly'] === 'on',
                'showOnOrder' => isset($row['showorder']) && $row['showorder'] === 'on',
            );
        }
        return array(200, array('fields' => $fields));
    }
}

if (!defined('VOIPBILL_FIELDS_NO_MAIN')) {
    require __DIR__ . '/init.php';
    $rows = array();
    try {
        foreach (WHMCS\Database\Capsule::table('tblcustomfields')->where('type', 'client')->orderBy('id')->get(array('id', 'fieldname', 'adminonly', 'showorder')) as $row) {
            $rows[] = (array) $row;
        }
        $answer = voipbill_fields_answer(
            voipbill_fields_secret(),
            isset($_SERVER['HTTP_X_VOIPBILL_TIMESTAMP']) ? $_SERVER['HTTP_X_VOIPBILL_TIMESTAMP'] : '',
            isset($_SERVER['HTTP_X_VOIPBILL_SIGNATURE']) ? $_SERVER['HTTP_X_VOIPBILL_SIGNATURE'] : '',
            time(),
            $rows
        );
    } catch (Exception $e) {
        $answer = array(500, array('error' => 'cannot read tblcustomfields'));
    }
    http_response_code($answer[0]);
    header('Content-Type: application/json');
    header('Cache-Control: no-store');
    echo json_encode($answer[1]);
}
