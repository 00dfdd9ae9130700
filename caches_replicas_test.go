package djcache

import (
	"strings"
	"testing"
)

// TestSettingsRedisReplicas pastes Django 4.2 and 5.2 RedisCache settings
// with several LOCATIONs (the first the leader, the others read replicas)
// and redis-py OPTIONS, and checks the URL each opens: the replicas as
// replica parameters, redis-py's db as the URL's database only where the
// URL names none (redis-py lets the URL win), the options Go has no use
// for accepted and ignored.
func TestSettingsRedisReplicas(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"Django 5.2 project", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
			"LOCATION": ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379", "redis://10.0.0.3"],
			"KEY_PREFIX": "shop", "TIMEOUT": 600,
			"OPTIONS": {"db": "2", "pool_class": "redis.BlockingConnectionPool", "parser_class": "redis.connection._HiredisParser",
				"socket_connect_timeout": 2, "socket_timeout": 0.5, "retry_on_timeout": true, "health_check_interval": 30,
				"max_connections": 50, "client_name": "shop"}}}`,
			"redis://10.0.0.1:6379?client_name=shop&db=2&dial_timeout=2&pool_size=50&read_timeout=0.5&replica=10.0.0.2%3A6379&replica=10.0.0.3%3A6379&serializer=pickle"},
		{"one string, separated", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
			"LOCATION": "redis://10.0.0.1:6379/1;redis://10.0.0.2:6379/1,redis://10.0.0.3:6380/1"}}`,
			"redis://10.0.0.1:6379/1?replica=10.0.0.2%3A6379&replica=10.0.0.3%3A6380&serializer=pickle"},
		{"URL database wins over OPTIONS db", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
			"LOCATION": ["redis://10.0.0.1:6379/1", "redis://10.0.0.2:6379/1"], "OPTIONS": {"db": 3}}}`,
			"redis://10.0.0.1:6379/1?replica=10.0.0.2%3A6379&serializer=pickle"},
		{"OPTIONS db is the database of a URL without one", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
			"LOCATION": ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379/3"], "OPTIONS": {"db": 3}}}`,
			"redis://10.0.0.1:6379?db=3&replica=10.0.0.2%3A6379&serializer=pickle"},
		{"passwords alike", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
			"LOCATION": ["redis://:s3cret@10.0.0.1:6379/0", "redis://10.0.0.2:6379/0"], "OPTIONS": {"password": "s3cret"}}}`,
			"redis://:s3cret@10.0.0.1:6379/0?replica=10.0.0.2%3A6379&serializer=pickle"},
		{"URL password wins over OPTIONS", `{"default": {"BACKEND": "django_redis.cache.RedisCache",
			"LOCATION": "redis://:s3cret@10.0.0.1:6379/0", "OPTIONS": {"PASSWORD": "other"}}}`,
			"redis://:s3cret@10.0.0.1:6379/0?serializer=pickle"},
		{"django-redis primary and replica", `{"default": {"BACKEND": "django_redis.cache.RedisCache",
			"LOCATION": ["redis://10.0.0.1:6379/1", "redis://10.0.0.2:6379/1"], "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}}}`,
			"redis://10.0.0.1:6379/1?replica=10.0.0.2%3A6379&serializer=pickle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := mustCaches(t, tc.json, nil)
			if got := cs.targets["default"].u.String(); got != tc.want {
				t.Errorf("URL = %s\nwant %s", got, tc.want)
			}
			if red, _ := cs.URL("default"); strings.Contains(red, "s3cret") {
				t.Errorf("URL(alias) = %s shows a password", red)
			}
		})
	}
}

// TestSettingsRedisReplicasDiffer: a replica that would not read the
// leader's data as djcache opens it (another database, other credentials,
// other URL parameters) is an error that says how it differs, and shows no
// password.
func TestSettingsRedisReplicasDiffer(t *testing.T) {
	for _, tc := range []struct{ location, options, want string }{
		{`["redis://h1:6379/0", "redis://h2:6379/1"]`, `{}`, `LOCATION[1] (host h2:6379): djcache reads from the replicas with the first LOCATION's scheme, user, password, database and URL parameters, and this one differs in its database (1, not 0)`},
		{`["redis://h1:6379", "redis://h2:6379/1"]`, `{"db": 2}`, `differs in its database (1, not 2)`},
		{`["redis://:s3cret@h1:6379", "redis://:0ther@h2:6379"]`, `{}`, `differs in its user or password`},
		{`["redis://:s3cret@h1:6379", "redis://h2:6379"]`, `{}`, `differs in its user or password`},
		{`["redis://h1:6379", "rediss://h2:6379"]`, `{}`, `differs in its scheme`},
		{`["redis://h1:6379", "redis://h2:6379?protocol=3"]`, `{}`, `differs in its URL parameters`},
		{`["redis://h1:6379", "redis://h2:6379/%zz"]`, `{}`, `LOCATION[1]: invalid URL escape`},
	} {
		json := `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": ` + tc.location + `, "OPTIONS": ` + tc.options + `}}`
		s, err := ParseSettings([]byte(json))
		if err == nil {
			_, err = NewCaches(s, nil)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("settings %s: err = %v, want one containing %q", json, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "0ther")) {
			t.Errorf("error %q shows a password", err)
		}
	}
}
